-- One row per call from one recipe to another: recipe function calls (sync and async), legacy
-- callable recipes, and Pub/Sub (publisher -> each subscriber of the topic).
-- callee_recipe_id is null and resolved false when the callee cannot be named (a datapill or
-- formula as flow_id, a recipe the API client cannot see, a topic nobody subscribes to).
with callers as (
    select
        s.workspace,
        s.recipe_id,
        s.number,
        s.reference_kind,
        s.reference,
        s.reference_name,
        s.reference_raw
    from workato_raw.recipe_steps as s
    inner join workato_raw.recipes as r
        on r.workspace = s.workspace and r.id = s.recipe_id
    where r.deleted_at is null and not s.skipped
),

recipe_calls as (
    select
        c.workspace,
        c.recipe_id as caller_recipe_id,
        callee.id as callee_recipe_id,
        case
            when c.reference_kind in ('call_service', 'call_service_async') then 'call_service'
            else c.reference_kind
        end as via,
        coalesce(c.reference_name, c.reference, c.reference_raw) as detail,
        c.number as step_number
    from callers as c
    left join workato_raw.recipes as callee
        on callee.workspace = c.workspace
        and cast(callee.id as varchar) = c.reference
        and callee.deleted_at is null
    where c.reference_kind in (
        'call_recipe', 'call_recipe_async', 'call_service', 'call_service_async'
    )
),

subscribers as (
    select s.workspace, s.recipe_id, s.reference
    from workato_raw.recipe_steps as s
    inner join workato_raw.recipes as r
        on r.workspace = s.workspace and r.id = s.recipe_id
    where r.deleted_at is null and s.reference_kind = 'pub_sub_subscribe'
),

topic_calls as (
    select
        p.workspace,
        p.recipe_id as caller_recipe_id,
        sub.recipe_id as callee_recipe_id,
        'pub_sub' as via,
        'topic ' || coalesce(p.reference, p.reference_raw, '?') as detail,
        p.number as step_number
    from callers as p
    left join subscribers as sub
        on sub.workspace = p.workspace and sub.reference = p.reference
    where p.reference_kind = 'pub_sub_publish'
)

select
    workspace,  -- not_null
    caller_recipe_id,  -- not_null
    callee_recipe_id,
    via,  -- not_null accepted_values: 'call_recipe', 'call_recipe_async', 'call_service', 'pub_sub', 'api_endpoint', 'webhook'
    detail,
    step_number,
    callee_recipe_id is not null as resolved
from recipe_calls
union all
select
    workspace,
    caller_recipe_id,
    callee_recipe_id,
    via,
    detail,
    step_number,
    callee_recipe_id is not null as resolved
from topic_calls
