-- One row per recipe (an integration): what it does, its status, where it lives, how it runs.
-- description is Workato's own when the recipe has one, else the generated one.
with step_stats as (
    select
        workspace,
        recipe_id,
        count(*) as step_count,
        max(depth) as max_depth,
        count(*) filter (where keyword = 'try') > 0 as has_error_handling
    from workato_raw.recipe_steps
    group by workspace, recipe_id
)

select
    r.workspace,  -- not_null
    r.id as recipe_id,  -- not_null
    r.name,
    coalesce(nullif(trim(r.description), ''), d.generated_description) as description,
    d.generated_description,
    case when r.running then 'active' else 'stopped' end as status,  -- accepted_values: 'active', 'stopped'
    r.stop_cause,
    coalesce(f.path, 'Home') as folder_path,
    r.trigger_application,
    coalesce(s.step_count, 0) as step_count,
    coalesce(s.max_depth, 0) as max_depth,
    coalesce(s.has_error_handling, false) as has_error_handling,
    r.job_succeeded_count,
    r.job_failed_count,
    r.lifetime_task_count,
    r.last_run_at,
    r.updated_at,
    coalesce(r.visible, true) as visible,  -- not_null
    r.deleted_at
from workato_raw.recipes as r
left join workato_raw.folders as f
    on f.workspace = r.workspace and f.id = r.folder_id
left join step_stats as s
    on s.workspace = r.workspace and s.recipe_id = r.id
left join archy.integration_descriptions as d
    on d.workspace = r.workspace and d.recipe_id = r.id
