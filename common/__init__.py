"""Pure helpers every app may import, below `tenants`: parsing and formatting Brazilian values, spreadsheet
formats, shared migration operations. No models, not an installed app, and it imports none of the apps."""
