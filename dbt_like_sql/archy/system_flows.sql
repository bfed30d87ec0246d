-- One row per (source instance, target instance) pair that recipes move data between: from a
-- connection a recipe reads (role source or both) to a different connection the same recipe
-- writes (role target or both). Connections of unknown role take no part: no arrow is drawn
-- that the steps do not show.
select
    s.workspace,  -- not_null
    s.application as source_application,
    s.connection_id as source_connection_id,  -- not_null
    si.name as source_connection_name,
    t.application as target_application,
    t.connection_id as target_connection_id,  -- not_null
    ti.name as target_connection_name,
    count(distinct s.recipe_id) as recipe_count,
    string_agg(distinct cast(s.recipe_id as varchar), ',' order by cast(s.recipe_id as varchar)) as recipe_ids
from archy.integration_systems as s
inner join archy.integration_systems as t
    on t.workspace = s.workspace
    and t.recipe_id = s.recipe_id
    and t.connection_id <> s.connection_id
left join archy.system_instances as si
    on si.workspace = s.workspace and si.connection_id = s.connection_id
left join archy.system_instances as ti
    on ti.workspace = t.workspace and ti.connection_id = t.connection_id
where s.role in ('source', 'both') and t.role in ('target', 'both')
group by
    s.workspace,
    s.application,
    s.connection_id,
    si.name,
    t.application,
    t.connection_id,
    ti.name
