-- One row per connection: a system instance, with its application, status and environment.
-- status is 'active' while the connection exists, is authorized and has not been lost.
with usage as (
    select
        rc.workspace,
        rc.connection_id,
        count(distinct rc.recipe_id) as recipe_count
    from workato_raw.recipe_connections as rc
    inner join workato_raw.recipes as r
        on r.workspace = rc.workspace and r.id = rc.recipe_id
    where r.deleted_at is null and rc.connection_id is not null
    group by rc.workspace, rc.connection_id
)

select
    c.workspace,  -- not_null
    c.id as connection_id,  -- not_null
    c.name,
    c.application,  -- not_null
    case
        when c.deleted_at is null
            and c.authorization_status = 'success'
            and c.connection_lost_at is null
            then 'active'
        else 'inactive'
    end as status,  -- not_null accepted_values: 'active', 'inactive'
    coalesce(c.authorization_error, c.connection_lost_reason) as authorization_error,
    coalesce(m.environment, 'unknown') as environment,  -- not_null
    coalesce(f.path, 'Home') as folder_path,
    coalesce(u.recipe_count, 0) as recipe_count,
    c.created_at,
    c.updated_at,
    coalesce(c.visible, true) as visible,  -- not_null
    c.deleted_at
from workato_raw.connections as c
left join workato_raw.folders as f
    on f.workspace = c.workspace and f.id = c.folder_id
left join usage as u
    on u.workspace = c.workspace and u.connection_id = c.id
left join archy.system_mappings as m
    on m.workspace = c.workspace and m.connection_id = c.id
