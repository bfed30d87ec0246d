"""The SQL model engine: models in dbt_like_sql/, dependencies read with sqlglot."""
