-- The systems each existing recipe touches as this build has them: one row per (recipe,
-- connection), with the system the connection is mapped to (null when none matched).
select
    s.workspace,
    s.recipe_id,
    s.connection_id,
    s.application,
    m.system_id,
    m.system_name,
    s.role
from archy.integration_systems as s
left join archy.system_mappings as m
    on m.workspace = s.workspace and m.connection_id = s.connection_id
