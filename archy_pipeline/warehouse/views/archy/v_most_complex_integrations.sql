-- The integrations by complexity score, most complex first (docs/analysis.md).
select c.workspace, c.recipe_id, c.name, c.score, c.percentile,
       i.status, i.folder_path, i.trigger_application, i.step_count, i.max_depth
from archy.recipe_complexity as c
left join archy.integrations as i
    on i.workspace = c.workspace and i.recipe_id = c.recipe_id
order by c.score desc
