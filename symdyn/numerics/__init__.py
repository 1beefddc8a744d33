r"""Numerics: generated numpy code for :math:`\dot y = f(y)`, and its integration.

* :func:`numeric` (also ``LearningSystem.numeric``) binds parameter values to code generated
  from the matrix form (matrix products on reshaped blocks; ``_codegen``) or, for
  scalar chains, from the component form (``lambdify`` with common sub-expressions).
* :func:`integrate` follows one trajectory with scipy's solvers (the steppers behind
  ``solve_ivp``), :func:`integrate_batch` thousands at once with a vectorised embedded
  Runge-Kutta pair with per-row step sizes. Both stop a row early when it has converged,
  detect blow-up, and report per row in a frozen result instead of raising.

**Convergence test** (both integrators). A trajectory is *converged* at an accepted step
:math:`t_k` when

.. math:: \|f(y_k)\|_\infty \le \mathrm{tol} \quad\text{and}\quad
          \frac{\|f(y_k)\|_\infty}{\lambda_k} \le \mathrm{xtol},\qquad
          \lambda_k = \frac{\ln(\|f(y_a)\|_\infty / \|f(y_k)\|_\infty)}{t_k - t_a},

where :math:`t_a` is the first time :math:`\|f\|_\infty` fell below :math:`10^{m+2}`,
:math:`10^m \le \min_{j \le k}\|f(y_j)\|_\infty < 10^{m+1}`: the speed is small *and* it
has decayed fast enough, over at least the last decade, that the distance still to travel,
:math:`\int_{t_k}^\infty \|f\| \approx \|f\|/\lambda` under exponential decay, is below
``xtol`` (:math:`\|f\| = 0` exactly is converged at once). The second condition is the
accuracy criterion: ``xtol`` defaults to ten local error tolerances,
:math:`10(\mathrm{atol} + \mathrm{rtol}\|y\|_\infty)`, since a remaining distance the error
control does not resolve cannot be observed. ``tol`` (default :math:`10^{-6}`, the
threshold of the papers' simulations) only keeps a fast-moving state from being called
converged; it should not be set below the noise floor of the integration,
:math:`\|f\| \approx \lambda_{\max}(\mathrm{atol} + \mathrm{rtol}\|y\|)`, where an explicit
method near an attracting point wanders at the stability limit of its step size.

Near a hyperbolic (or normally hyperbolic) attracting set :math:`\lambda_k` is the contraction
rate and the test passes soon after the speed is small; a trajectory creeping in saturation
or towards a degenerate fixed point has a speed that decays like a power of :math:`t`, so
:math:`\lambda_k \sim 1/t` and the projected distance :math:`\sim \|f\|\,t` stays large: it is
reported ``"running"``, not converged. Averaging over a decade (not one step) keeps the test
from being fooled by one lucky step, and lets it pass at the noise floor (where
:math:`\|f\|` wanders instead of decaying). No finite-time test is safe from a mode slower
than anything seen so far (a slow manifold reached after a fast transient, with a speed
already below ``tol``); integrate longer with ``stop_on_convergence=False`` to rule it out.

**Blow-up**: a row is ``"diverged"`` when its state or speed is non-finite or
:math:`\|y\|_\infty` exceeds ``max_norm``, or when the step size collapses (below ten ulps of
:math:`t`) after the state grew a hundredfold (a finite-time singularity); other step-size
collapses and exhausted step budgets are ``"failed"``.


Modules: ``_codegen`` (sympy to numpy source), ``_binding`` (values to parameters),
``_rhs`` (:class:`NumericRHS`), ``_results`` (result types), ``_convergence`` (the test
above), ``_integrate`` (one trajectory), ``_tableau`` (Runge-Kutta pairs), ``_batch``
(:class:`~symdyn.numerics._batch.BatchStepper`, :func:`integrate_batch`), ``_compiled`` (the
optional numba backend of :func:`integrate_batch`: scalar code printed from the component form,
appended to the per-row loop template ``_rk_loop`` and compiled once per machine),
``_classify`` (:func:`classify`: where rows end), ``_certify`` (:func:`certify_periodic`:
closed orbits from first integrals; :func:`follow_level_curve`: a start classified by its
level curve).
"""

from ._batch import check_batch_size, integrate_batch
from ._binding import bind_values
from ._certify import Certificate, LevelCurve, certify_periodic, follow_level_curve
from ._classify import CLASSES, Classification, classify
from ._integrate import integrate
from ._results import STATUSES, BatchResult, IntegrationResult
from ._rhs import NumericRHS, numeric, rhs_kernel

__all__ = [
    "NumericRHS",
    "numeric",
    "rhs_kernel",
    "bind_values",
    "integrate",
    "integrate_batch",
    "check_batch_size",
    "IntegrationResult",
    "BatchResult",
    "STATUSES",
    "classify",
    "Classification",
    "CLASSES",
    "certify_periodic",
    "Certificate",
    "follow_level_curve",
    "LevelCurve",
]
