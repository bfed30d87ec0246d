-- What to fix first (docs/analysis.md): severity, a production connection involved, affected
-- recipes, failed jobs, then the kind (in the order of archy_pipeline.analysis.KINDS; a test
-- keeps the two the same), workspace, title and id.
select row_number() over (
           order by
               case severity when 'high' then 0 when 'medium' then 1 else 2 end,
               case when production then 0 else 1 end,
               affected_recipes desc,
               failed_jobs desc,
               case kind
                   when 'circular_dependency' then 0
                   when 'unused_connection' then 1
                   when 'duplicate_connection' then 2
                   when 'inactive_recipe' then 3
                   when 'missing_error_handling' then 4
                   when 'failing_recipe' then 5
                   when 'high_coupling' then 6
                   when 'bottleneck' then 7
                   when 'high_complexity' then 8
                   when 'consolidation_candidate' then 9
                   when 'performance_opportunity' then 10
                   else 11
               end,
               workspace, title, insight_id
       ) as priority,
       workspace, severity, kind, category, title, recommendation, detail,
       affected_recipes, failed_jobs, production, subjects, insight_id, first_seen_at
from archy.insights
where status = 'open'
order by priority
