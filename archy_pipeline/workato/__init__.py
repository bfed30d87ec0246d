"""Everything that knows Workato: the API client, the connector vocabulary, the recipe parser,
the generated descriptions and the activity audit log."""
