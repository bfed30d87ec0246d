-- One row per (recipe, connection, role): the systems an integration reads from and writes to.
-- role is 'source' for the trigger's connection, 'target' for connections used by actions,
-- 'both' when a connection is used by the trigger and by actions. Skipped steps do not count.
with used as (
    select
        workspace,
        recipe_id,
        connection_id,
        bool_or(keyword = 'trigger') as by_trigger,
        bool_or(keyword <> 'trigger') as by_actions,
        min(application) as step_application,
        string_agg(cast(number as varchar), ',' order by number) as step_numbers
    from workato_raw.recipe_steps
    where connection_id is not null and not skipped
    group by workspace, recipe_id, connection_id
)

select
    u.workspace,  -- not_null
    u.recipe_id,  -- not_null
    u.connection_id,  -- not_null
    coalesce(c.application, u.step_application) as application,
    case
        when u.by_trigger and u.by_actions then 'both'
        when u.by_trigger then 'source'
        else 'target'
    end as role,  -- not_null accepted_values: 'source', 'target', 'both'
    u.step_numbers
from used as u
inner join workato_raw.recipes as r
    on r.workspace = u.workspace and r.id = u.recipe_id
left join workato_raw.connections as c
    on c.workspace = u.workspace and c.id = u.connection_id
where r.deleted_at is null
