-- One row per folder of each workspace, with its full path from Home and its project.
select
    f.workspace,  -- not_null
    f.id as folder_id,  -- not_null
    f.name,
    f.parent_id,
    f.project_id,
    p.name as project_name,
    f.is_project,
    f.path,
    length(f.path) - length(replace(f.path, '/', '')) as depth,
    f.created_at,
    f.updated_at,
    coalesce(f.visible, true) as visible,  -- not_null
    f.deleted_at
from workato_raw.folders as f
left join workato_raw.projects as p
    on p.workspace = f.workspace and p.id = f.project_id
