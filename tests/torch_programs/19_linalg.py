"""torch.linalg: norm/vector_norm/matrix_norm, inv, solve, det, slogdet, and gradients through them."""
import numpy as np
import torch


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


rng = np.random.default_rng(20)
A = torch.tensor((rng.standard_normal((3, 3)) + 3 * np.eye(3)).astype("float32"))
B = torch.tensor(rng.standard_normal((3, 2)).astype("float32"))
b = torch.tensor(rng.standard_normal(3).astype("float32"))
batch = torch.tensor((rng.standard_normal((2, 3, 3)) + 2 * np.eye(3)).astype("float32"))

print("norm_vector:", r(torch.linalg.norm(b)))
print("norm_matrix_fro:", r(torch.linalg.norm(A)))
print("norm_ord_1_vec:", r(torch.linalg.norm(b, ord=1)))
print("norm_ord_inf_vec:", r(torch.linalg.norm(b, ord=float("inf"))))
print("norm_dim:", r(torch.linalg.norm(A, dim=1)))
print("norm_matrix_ord1:", r(torch.linalg.norm(A, ord=1)))
print("norm_matrix_inf:", r(torch.linalg.norm(A, ord=float("inf"))))
print("vector_norm:", r(torch.linalg.vector_norm(A, ord=3)), r(torch.linalg.vector_norm(A, dim=0, keepdim=True)))
print("matrix_norm:", r(torch.linalg.matrix_norm(batch)))
print("tensor_norm_method:", r(A.norm(p="fro")), r(b.norm(p=2)))

Ainv = torch.linalg.inv(A)
print("inv:", r(Ainv))
print("inv_identity:", torch.allclose(A @ Ainv, torch.eye(3), atol=1e-5))
print("inverse_alias:", torch.allclose(torch.inverse(A), Ainv))
print("inv_batched:", r(torch.linalg.inv(batch)[1]))
x = torch.linalg.solve(A, b)
print("solve_vector:", r(x))
print("solve_residual_small:", torch.allclose(A @ x, b, atol=1e-5))
print("solve_matrix:", r(torch.linalg.solve(A, B)))
print("solve_batched_shape:", tuple(torch.linalg.solve(batch, B).shape))
print("det:", r(torch.linalg.det(A)))
print("det_batched:", r(torch.linalg.det(batch)))
print("det_alias:", r(torch.det(A)), r(A.det()))
sign, logabs = torch.linalg.slogdet(A)
print("slogdet:", r(sign), r(logabs))
print("det_singular:", r(torch.linalg.det(torch.tensor([[1.0, 2.0], [2.0, 4.0]]))))
print("det_2x2_exact:", torch.linalg.det(torch.tensor([[4.0, 7.0], [2.0, 6.0]])).item())
print("inv_2x2:", r(torch.linalg.inv(torch.tensor([[4.0, 7.0], [2.0, 6.0]]))))
print("float64_det:", r(torch.linalg.det(A.double())), str(torch.linalg.det(A.double()).dtype))
print("matrix_power:", r(torch.linalg.matrix_power(A, 3)[0]))
print("cross:", r(torch.linalg.cross(b, B[:, 0])))

# gradients
Ag = A.clone().requires_grad_()
torch.linalg.det(Ag).backward()
print("det_grad:", r(Ag.grad))
print("det_grad_is_adjugate_T:", torch.allclose(Ag.grad, torch.linalg.det(A) * torch.linalg.inv(A).T, atol=1e-4))
Ag.grad = None
torch.linalg.inv(Ag).sum().backward()
print("inv_grad:", r(Ag.grad))
Ag.grad = None
bg = b.clone().requires_grad_()
torch.linalg.solve(Ag, bg).pow(2).sum().backward()
print("solve_grad_A:", r(Ag.grad))
print("solve_grad_b:", r(bg.grad))
Ag.grad = None
torch.linalg.norm(Ag).backward()
print("norm_grad:", r(Ag.grad))

# least squares by the normal equations: fit y = X w
X = torch.tensor(rng.standard_normal((20, 3)).astype("float32"))
w_true = torch.tensor([1.5, -2.0, 0.5])
y = X @ w_true + torch.tensor((rng.standard_normal(20) * 0.01).astype("float32"))
w_hat = torch.linalg.solve(X.T @ X, X.T @ y)
print("normal_equations_w:", r(w_hat))
