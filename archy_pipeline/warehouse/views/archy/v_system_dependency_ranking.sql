-- The systems by how much depends on them, per workspace (docs/analysis.md).
select * from archy.system_dependency_ranking order by workspace, rank
