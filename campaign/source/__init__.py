"""Source: what marketing staff write, read and checked.

Owns press-release parsing (`release`), YAML with line numbers (`yamlfile`), campaign files (`config`) and
scaffolding a campaign from a release (`scaffold`). Every error names the file and line.
May import: the foundation modules, `campaign.text`, `campaign.schedule`, `campaign.channels`,
`campaign.http`.
"""
