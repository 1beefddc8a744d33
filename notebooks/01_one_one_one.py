# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The 1-1-1 chain under BP, RBP and ARBP
#
# The smallest deep network, one input, one hidden and one output unit, all linear
# (`docs/science.md`, sections 3 and 4). This notebook
#
# 1. derives the averaged learning equations of BP, RBP and ARBP and prints them;
# 2. finds their first integrals and fixed points;
# 3. draws the phase portraits with the level sets of the first integrals and the
#    fixed-point families;
# 4. splits the RBP hyperbola $a_1 a_2 = \alpha/\beta$ into its stable and unstable parts
#    by the transverse eigenvalue $-\beta(a_1^2 + c_1 a_2)$;
# 5. reduces 1-1-1 RBP on the level sets of its first integral to one cubic equation, and
#    checks that the reduced equation reproduces the full trajectories.
#
# Set `SYMDYN_NOTEBOOK_QUICK=1` for a quick run (fewer trajectories).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import Latex, Markdown, display
from scipy.integrate import solve_ivp

import symdyn as sd
from symdyn.plots import phase_portrait

QUICK = os.environ.get("SYMDYN_NOTEBOOK_QUICK") == "1"
plt.rcParams.update({"figure.dpi": 90, "axes.titlesize": 10})
VALUES = {"alpha": 1.0, "beta": 1.0}  # alpha = E[I T], beta = E[I^2]

# %% [markdown]
# ## The equations
#
# With $\alpha = E[IT]$ and $\beta = E[I^2]$ the averaged dynamics of the forward weights
# $a_1, a_2$ (and of the channel weight $c_1$ where it learns) read:

# %%
systems = {rule: sd.derive("1-1-1", rule) for rule in ("bp", "rbp", "arbp")}
for rule, s in systems.items():
    display(Markdown(f"**{rule.upper()}**: state ${', '.join(map(sp.latex, s.state))}$, "
                     f"parameters ${', '.join(map(sp.latex, s.parameters))}$"))
    display(Latex(s.latex("component")))

# %% [markdown]
# ## First integrals and fixed points
#
# `sd.invariants` searches for polynomial first integrals (here of degree 2) and
# `sd.fixed_points` solves $f(y) = 0$ symbolically, with the stability of each family.

# %%
found = {rule: sd.invariants(s, degree=2) for rule, s in systems.items()}
fps = {rule: sd.fixed_points(s) for rule, s in systems.items()}
for rule in systems:
    print(f"{rule.upper()}: first integrals {list(found[rule])}")
    for p in fps[rule]:
        print(f"    fixed points {p.solution} (dimension {p.dimension}): {p.classification}")
        print(f"        eigenvalues {p.eigenvalues}")

# %% [markdown]
# Each first integral is checked by its Lie derivative (`sd.verify_invariant`), independently
# of the search; the expected ones of `docs/science.md` must lie among those found.

# %%
a1, a2, c1 = sp.symbols("a1 a2 c1")
expected = {"bp": [a1**2 - a2**2], "rbp": [a1**2 - 2 * c1 * a2],
            "arbp": [c1 - a2, a1**2 - c1**2]}
for rule, Hs in expected.items():
    for H in Hs:
        check = sd.verify_invariant(systems[rule], H)
        print(f"{rule.upper()}: d/dt({H}) = 0: {check.holds} ({check.method})")
        assert check.holds

# %% [markdown]
# ## Phase portraits
#
# Arrows show the direction of the flow, dotted lines the level sets of the first integral
# through each start, the red curve the fixed points (here the hyperbola
# $a_1 a_2 = \alpha/\beta$). BP and RBP (with $c_1 = 0.5$) at $\alpha = \beta = 1$:

# %%
rng = np.random.default_rng(1)
starts = rng.uniform(-1.8, 1.8, size=(4 if QUICK else 8, 2))
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), layout="constrained")
phase_portrait(systems["bp"], VALUES, trajectories=starts, invariants=["a1**2 - a2**2"],
               t_final=30, ax=axes[0])
axes[0].set_title("BP: level sets of $a_1^2 - a_2^2$")
rbp_values = {**VALUES, "c1": 0.5}
phase_portrait(systems["rbp"], rbp_values, trajectories=starts,
               invariants=["a1**2 - 2*c1*a2"], t_final=60, ax=axes[1])
axes[1].set_title("RBP, $c_1 = 0.5$: level sets of $a_1^2 - 2 c_1 a_2$")
plt.show()

# %% [markdown]
# ## Stable and unstable parts of the RBP hyperbola
#
# On the hyperbola one eigenvalue of the Jacobian is 0 (along the curve); the other, the
# transverse one, decides stability. The fixed-point search returns it; it equals
# $-\beta(a_1^2 + c_1 a_2)$ on the hyperbola:

# %%
alpha, beta = sp.symbols("alpha beta")
(hyperbola,) = [p for p in fps["rbp"] if p.dimension == 1]
(transverse,) = hyperbola.transverse
claimed = -beta * (a1**2 + c1 * a2)
difference = sp.simplify((transverse - claimed).subs(hyperbola.solution))
print("transverse eigenvalue:", transverse, "  minus the claim, on the set:", difference)
assert difference == 0
display(Markdown(f"transverse eigenvalue $= {sp.latex(transverse)}$; "
                 f"stability: {hyperbola.classification}"))

# %% [markdown]
# With $c_1 > 0$ the branch $a_1, a_2 > 0$ is entirely stable, while on the branch
# $a_1, a_2 < 0$ the points with $a_1^2 + c_1 a_2 < 0$ repel: trajectories on the level set
# through such a point leave it for the stable part of the other branch or of the same one.

# %%
lam = sp.lambdify((a2, c1, alpha, beta), transverse, "numpy")
fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
phase_portrait(systems["rbp"], rbp_values, trajectories=starts,
               invariants=["a1**2 - 2*c1*a2"], t_final=60, fixed_points=None,
               xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), ax=ax)
for branch in (np.linspace(0.2, 2.5, 400), np.linspace(-2.5, -0.2, 400)):
    ev = lam(branch, 0.5, 1.0, 1.0)
    x = 1.0 / branch  # a1 = alpha / (beta a2)
    ax.plot(np.where(ev < 0, x, np.nan), np.where(ev < 0, branch, np.nan), color="crimson",
            lw=3)
    ax.plot(np.where(ev > 0, x, np.nan), np.where(ev > 0, branch, np.nan), color="royalblue",
            lw=3, ls="--")
ax.plot([], [], color="crimson", lw=3, label="stable fixed points")
ax.plot([], [], color="royalblue", lw=3, ls="--", label="unstable fixed points")
ax.legend(loc="lower right", fontsize=8)
ax.set_title(r"1-1-1 RBP, $c_1 = 0.5$: transverse eigenvalue $-\beta(a_1^2 + c_1 a_2)$ "
             "< 0 (stable) or > 0 (unstable)")
plt.show()
a2_switch = float(sp.nsolve(transverse.subs({c1: 0.5, alpha: 1, beta: 1}), a2, -1.2))
print(f"the transverse eigenvalue changes sign at a2 = {a2_switch:.4f} "
      f"(a1 = {1 / a2_switch:.4f}), i.e. a2^3 = -alpha^2 / (beta^2 c1)")
assert abs(a2_switch + 2 ** (1 / 3)) < 1e-9  # the value the closing prose states

# %% [markdown]
# ## Reduction to a cubic
#
# On a level set $K = a_1^2 - 2 c_1 a_2$ the variable $a_2$ is a function of $a_1$, and the
# system becomes one equation for $a_1$: a cubic with negative leading coefficient, so every
# solution is bounded and monotone and converges to a root, a point of the hyperbola.

# %%
red = sd.reduce(systems["rbp"], invariants=[a1**2 - 2 * c1 * a2], solve_for=[a2])
(K,) = red.constants
(g,) = red.rhs
display(Markdown(f"$\\dot a_1 = {sp.latex(sp.collect(sp.expand(g), a1))}$, "
                 f"with ${sp.latex(K)} = {sp.latex(red.constants[K])}$ and "
                 f"$a_2 = {sp.latex(red.back[a2])}$"))
print(red.message, "| verified:", red.verified)
leading = sp.Poly(g, a1).LC()
print("leading coefficient in a1:", leading)
assert red.verified and leading == -beta / 2

# %% [markdown]
# The reduced equation is checked against the full system: integrate both from the same
# start and compare $a_1(t)$.

# %%
g_num = sp.lambdify((a1, K), g.subs({alpha: 1, beta: 1, c1: 0.5}), "numpy")
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
x = np.linspace(-2.2, 2.2, 400)
worst = 0.0
for k, y0 in enumerate(starts[:4]):
    Kv = y0[0] ** 2 - 2 * 0.5 * y0[1]
    axes[0].plot(x, g_num(x, Kv), color=f"C{k}", label=f"$K = {Kv:.2f}$")
    t_eval = np.linspace(0, 20, 200)
    full = sd.integrate(systems["rbp"], y0, 20.0, rbp_values, t_eval=t_eval,
                        stop_on_convergence=False, rtol=1e-10, atol=1e-12)
    sol = solve_ivp(lambda t, y, Kv=Kv: [g_num(y[0], Kv)], (0, 20), [y0[0]], t_eval=t_eval,
                    rtol=1e-10, atol=1e-12)
    worst = max(worst, float(np.max(np.abs(sol.y[0] - full.y[:, 0]))))
    axes[1].plot(full.t, full.y[:, 0], color=f"C{k}", lw=2, label=f"full system, start {k + 1}")
    axes[1].plot(sol.t, sol.y[0], color="k", ls=":", lw=1.2)
axes[1].plot([], [], color="k", ls=":", label="reduced cubic")
axes[0].axhline(0, color="0.5", lw=0.8)
axes[0].set(xlabel="$a_1$", ylabel=r"$\dot a_1$", title=r"the cubic $\dot a_1 = g(a_1; K)$ "
            "on four level sets ($c_1 = 0.5$)")
axes[1].set(xlabel="t", ylabel="$a_1$", title="$a_1(t)$: full system and reduced equation")
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=8)
plt.show()
print(f"largest difference in a1 between the full and the reduced system: {worst:.2e}")
assert worst < 1e-6

# %% [markdown]
# ## ARBP: a learning channel
#
# With $\lambda = 1$, ARBP conserves $c_1 - a_2$ and $a_1^2 - c_1^2$. Its fixed points are
# the surface $a_1 a_2 = \alpha/\beta$ and the line $a_1 = c_1 = 0$, a saddle with
# eigenvalues $\{\alpha, -\alpha, 0\}$. Trajectories in the full three-dimensional state,
# projected on two planes: $(a_1, a_2)$ with the fixed-point surface, and $(a_1, c_1)$ where
# the first integral $a_1^2 - c_1^2$ lives.

# %%
arbp = systems["arbp"]
(line,) = [p for p in fps["arbp"] if p.dimension == 1]
print("the line", line.solution, ":", line.stability, "eigenvalues", line.eigenvalues)
Y0 = np.random.default_rng(2).uniform(-1.5, 1.5, size=(5 if QUICK else 10, 3))
t_eval = np.linspace(0, 40, 400)
batch = sd.integrate_batch(arbp, Y0, 40.0, VALUES, t_eval=t_eval)
fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
for r in range(len(Y0)):
    path = batch.y_eval[:, r]
    for ax, (i, j) in zip(axes, [(0, 1), (0, 2)]):
        ax.plot(path[:, i], path[:, j], color=f"C{r % 10}", lw=1.3)
        ax.plot(*Y0[r, [i, j]], "o", color=f"C{r % 10}", ms=4)
        if batch.status[r] == "converged":
            ax.plot(*batch.y[r, [i, j]], "*", color=f"C{r % 10}", ms=9)
grid = np.linspace(-2.5, 2.5, 300)
A, B = np.meshgrid(grid, grid)
axes[0].contour(A, B, A * B, levels=[1.0], colors="crimson", linewidths=2)
H0 = Y0[:, 0] ** 2 - Y0[:, 2] ** 2
axes[1].contour(A, B, A**2 - B**2, levels=np.unique(np.round(np.sort(H0), 9)),
                colors="0.3", linestyles="dotted")
axes[1].plot([0], [0], "kx", ms=10, mew=2)
axes[0].plot([], [], color="crimson", lw=2, label=r"fixed points $a_1 a_2 = \alpha/\beta$")
axes[1].plot([], [], color="0.3", ls=":", label="level sets of $a_1^2 - c_1^2$")
axes[1].plot([], [], "kx", ms=10, mew=2, label="saddle line $a_1 = c_1 = 0$ (seen end-on)")
for ax in axes:
    ax.plot([], [], "o-", color="0.4", ms=4, label="trajectory from its start")
    ax.plot([], [], "*", color="0.4", ms=9, label="converged end")
    ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5))
    ax.legend(fontsize=8, loc="lower right")
axes[0].set(xlabel="$a_1$", ylabel="$a_2$", title="1-1-1 ARBP, projection on $(a_1, a_2)$")
axes[1].set(xlabel="$a_1$", ylabel="$c_1$", title="1-1-1 ARBP, projection on $(a_1, c_1)$")
plt.show()
H1 = batch.y[:, 2] - batch.y[:, 1]
drift = float(np.max(np.abs(H1 - (Y0[:, 2] - Y0[:, 1]))))
P_end = batch.y[:, 0] * batch.y[:, 1]
n_conv = int(batch.converged.sum())
print(f"{n_conv} of {len(Y0)} ARBP trajectories converged; |a1 a2 - 1| <= "
      f"{np.max(np.abs(P_end[batch.converged] - 1)):.1e} at the converged ends; "
      f"largest drift of c1 - a2: {drift:.1e}")

# %% [markdown]
# ## What was found
#
# The cells above print and assert each number; in words:
#
# - **First integrals** (checked by their Lie derivatives): BP conserves $a_1^2 - a_2^2$,
#   RBP conserves $a_1^2 - 2c_1a_2$, ARBP conserves $c_1 - a_2$ and $a_1^2 - c_1^2$ (and
#   their combinations, which the degree-2 search also lists).
# - **Fixed points**: BP and RBP share the hyperbola $a_1 a_2 = \alpha/\beta$; BP has in
#   addition the saddle at the origin (eigenvalues $\pm\alpha$). ARBP has the surface
#   $a_1 a_2 = \alpha/\beta$ and the saddle line $a_1 = c_1 = 0$ (eigenvalues
#   $\{0, \alpha, -\alpha\}$).
# - **Stability of the RBP hyperbola**: the transverse eigenvalue equals
#   $-\beta(a_1^2 + c_1 a_2)$ on the hyperbola (the difference simplifies to 0). With
#   $c_1 = 0.5$, $\alpha = \beta = 1$, the hyperbola is stable except on the part of the
#   negative branch with $a_2 < -2^{1/3} \approx -1.26$ (printed above), where it repels.
# - **Reduction**: on $K = a_1^2 - 2c_1a_2$, RBP becomes
#   $\dot a_1 = \alpha c_1 - \tfrac{\beta}{2} a_1 (a_1^2 - K)$, verified by substitution;
#   its leading coefficient $-\beta/2$ is negative, which is why every trajectory with
#   $c_1 \neq 0$ converges. The reduced equation reproduces $a_1(t)$ of the full system to
#   the printed difference (below $10^{-6}$).
# - **ARBP**: the sampled trajectories converge to the surface $a_1 a_2 = 1$ (those that
#   did are counted above) while $c_1 - a_2$ stays constant to the printed drift.
