-- The connections as this build has them: one row per connection that exists (not deleted).
select
    workspace,
    connection_id,
    name,
    application,
    status,
    environment,
    folder_path
from archy.system_instances
where deleted_at is null
