-- The recipes as this build has them: one row per recipe that exists (not deleted).
-- connection_ids: the connections its steps use (archy.integration_systems), ascending.
select
    i.workspace,
    i.recipe_id,
    i.name,
    i.status,
    i.folder_path,
    c.connection_ids,
    i.step_count
from archy.integrations as i
left join (
    select
        workspace,
        recipe_id,
        string_agg(cast(connection_id as varchar), ',' order by connection_id) as connection_ids
    from archy.integration_systems
    group by workspace, recipe_id
) as c
    on c.workspace = i.workspace and c.recipe_id = i.recipe_id
where i.deleted_at is null
