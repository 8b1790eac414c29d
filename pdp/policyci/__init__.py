"""Policy CI: the decision-level diff, policy unit tests, formatting, replay and the CI gate.

Modules: `diff` (what access a policy change adds or removes, computed
symbolically), `git` (policy texts at a git revision), `testing` (YAML policy
unit tests), `junit` (JUnit XML), `replay` (re-deciding logged decisions),
`fmt` (comment-preserving normalisation), `gate` (the `pdp ci` pipeline),
`render` (text, Markdown and SARIF output).
"""
