"""JUnit XML for policy test runs, the report format CI systems read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from pdp.policyci.testing import CaseResult, TestRun


def junit_xml(run: TestRun, suite_name: str = "pdp policy tests") -> str:
    """The run as a JUnit XML document: one testsuite per test file, one testcase per case."""
    by_file: dict[str, list[CaseResult]] = defaultdict(list)
    for result in run.results:
        by_file[result.file].append(result)
    root = ET.Element(
        "testsuites",
        name=suite_name,
        tests=str(len(run.results)),
        failures=str(len(run.failed)),
        errors="0",
        time=f"{sum(r.seconds for r in run.results):.6f}",
    )
    for file, results in by_file.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(results)),
            failures=str(sum(not r.passed for r in results)),
            errors="0",
            skipped="0",
            time=f"{sum(r.seconds for r in results):.6f}",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="policy_version", value=run.policy_version)
        for r in results:
            case = ET.SubElement(
                suite, "testcase", classname=Path(file).stem, name=r.name, time=f"{r.seconds:.6f}"
            )
            if not r.passed:
                failure = ET.SubElement(
                    case, "failure", message=r.failures[0], type="PolicyTestFailure"
                )
                failure.text = "\n".join(r.failures)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
