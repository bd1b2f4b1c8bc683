"""`fcsbe demo`: a complete aggregator story against a running FCSBE, told with the FO client.

It imports only `fcsbe.model` and `fcsbe.client` (an import-linter contract keeps it so): what
it does, any aggregator can do over HTTP.
"""

from fcsbe.demo.console import run_demo
from fcsbe.demo.outcome import STEPS, DemoOptions, DemoReport, FsOutcome, StepResult
from fcsbe.demo.runner import run_story

__all__ = ["STEPS", "DemoOptions", "DemoReport", "FsOutcome", "StepResult", "run_demo", "run_story"]
