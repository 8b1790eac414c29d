"""The checks of the privilege review, one module per family of finding kinds.

Each check is a function `check(ctx: ReviewContext) -> Iterator[Finding]`;
`pdp.analysis.review.review` runs them in order.
"""
