-- The workspaces this build covers: history is closed only within them, so a workspace whose
-- rows are missing altogether (a table not built, a workspace left out) loses no open row.
select workspace from archy.integrations
union
select workspace from archy.system_instances
