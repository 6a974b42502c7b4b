"""The workflows, where the project's top level names them. They live in
:mod:`pathway.workflows` and are installed with the package; this folder only re-exports them
(it is not installed, and nothing in the package imports it)."""

from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.programme import ProgrammeRegisterWorkflow
from pathway.workflows.retention import RetentionSweepWorkflow

__all__ = ["ProgrammeRegisterWorkflow", "RetentionSweepWorkflow", "VictimCaseWorkflow"]
