"""Privilege analysis of a pdp policy: the review graph, findings, reports and role mining."""
