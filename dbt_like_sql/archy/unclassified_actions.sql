-- One row per (workspace, application, action) whose steps the vocabulary could not classify
-- as reads or writes (recipe_steps.access = 'unknown'): the list to improve
-- archy_pipeline/vocabulary.py from, or to settle with access.overrides in archy.yaml.
-- Current recipes and steps that are not skipped, as in integration_systems.
select
    s.workspace,  -- not_null
    s.application,
    s.action_name,
    string_agg(distinct s.access_reason, ',' order by s.access_reason) as reasons,
    count(*) as step_count,  -- not_null
    count(distinct s.recipe_id) as recipe_count,  -- not_null
    string_agg(distinct cast(s.recipe_id as varchar), ',' order by cast(s.recipe_id as varchar)) as recipe_ids
from workato_raw.recipe_steps as s
inner join workato_raw.recipes as r
    on r.workspace = s.workspace and r.id = s.recipe_id
where r.deleted_at is null and s.access = 'unknown' and not s.skipped
group by s.workspace, s.application, s.action_name
