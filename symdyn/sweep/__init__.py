"""Sweeps: where trajectories end over a grid (or a random sample) of specs and parameters.

The family's modules: ``_spec`` (the TOML/``--set`` spec, validated), ``_plan`` (limits
checked before any work, the estimate, chunks, each system's backend), ``_run`` (Dask
execution, summaries), ``_store`` (the chunk store on disk), ``_plots`` (phase diagrams,
basin slices, Poincaré sections). The classifier and the orbit certificate live in
:mod:`symdyn.numerics` (``_classify``, ``_certify``): ``symdyn integrate --batch`` classifies
with them too, and ``numerics`` sits below every family that uses them."""

from ._plots import basin_slice, phase_diagram, poincare_plot
from ._run import SweepRun, load_sweep, phase_shares, sweep, sweep_summary
from ._spec import SweepSpec, load_spec

__all__ = ["sweep", "load_sweep", "sweep_summary", "SweepRun", "phase_shares", "SweepSpec",
           "load_spec", "phase_diagram", "basin_slice", "poincare_plot"]
