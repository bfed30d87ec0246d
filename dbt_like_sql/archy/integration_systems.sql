-- One row per (recipe, connection): the systems an integration reads from and writes to.
-- Each step says whether it reads or writes its application (recipe_steps.access, decided by
-- archy_pipeline/vocabulary.py; the trigger reads). role is 'source' for a connection the
-- recipe only reads, 'target' for one it only writes, 'both' for one it reads and writes, and
-- 'unknown' when every step on the connection has unknown access: such a connection is a
-- dependency of the recipe but takes no part in system_flows. Steps of unknown access next to
-- reads or writes do not change the role; unknown_steps counts them. Skipped steps do not
-- count. Steps parsed before access existed (access null) count as reads for the trigger and
-- as unknown for actions, until the recipe is parsed again.
-- by_trigger tells the connection whose events start the recipe (a write to it can start the
-- recipe again, which is what makes a sync loop).
with steps as (
    select
        workspace,
        recipe_id,
        connection_id,
        number,
        keyword,
        application,
        coalesce(access, case when keyword = 'trigger' then 'read' else 'unknown' end) as access
    from workato_raw.recipe_steps
    where connection_id is not null and not skipped
),

used as (
    select
        workspace,
        recipe_id,
        connection_id,
        -- bigint on both warehouses (DuckDB's sum of integers is a HUGEINT)
        cast(sum(case when access = 'read' then 1 else 0 end) as bigint) as read_steps,
        cast(sum(case when access = 'write' then 1 else 0 end) as bigint) as write_steps,
        cast(sum(case when access = 'unknown' then 1 else 0 end) as bigint) as unknown_steps,
        bool_or(keyword = 'trigger') as by_trigger,
        min(application) as step_application,
        string_agg(cast(number as varchar), ',' order by number) as step_numbers
    from steps
    group by workspace, recipe_id, connection_id
)

select
    u.workspace,  -- not_null
    u.recipe_id,  -- not_null
    u.connection_id,  -- not_null
    coalesce(c.application, u.step_application) as application,
    case
        when u.read_steps > 0 and u.write_steps > 0 then 'both'
        when u.read_steps > 0 then 'source'
        when u.write_steps > 0 then 'target'
        else 'unknown'
    end as role,  -- not_null accepted_values: 'source', 'target', 'both', 'unknown'
    u.step_numbers,
    u.read_steps,  -- not_null
    u.write_steps,  -- not_null
    u.unknown_steps,  -- not_null
    u.by_trigger  -- not_null
from used as u
inner join workato_raw.recipes as r
    on r.workspace = u.workspace and r.id = u.recipe_id
left join workato_raw.connections as c
    on c.workspace = u.workspace and c.id = u.connection_id
where r.deleted_at is null
