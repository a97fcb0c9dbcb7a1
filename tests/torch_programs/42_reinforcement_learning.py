"""Reinforcement learning as people write it, on tiny deterministic environments written here:
(a) DQN: a replay buffer, epsilon-greedy exploration (numpy RNG), a target network synced with
load_state_dict(policy.state_dict()), Q(s, a) via gather, max(1).values targets under detach,
SmoothL1Loss, clip_grad_value_ / clip_grad_norm_, double-DQN targets, soft (Polyak) target updates
under torch.no_grad() with mul_/add_(alpha=), lerp_ and torch._foreach_* ops;
(b) PPO: an actor-critic with Categorical and Independent(Normal) policies, log_prob/entropy,
actions drawn with numpy from the policy's probabilities, GAE with a reversed loop, advantage
normalisation, ratio clipping with torch.clamp and torch.min, value clipping, several epochs over
minibatches from a numpy permutation, approximate KL and clip fractions."""
import copy
from collections import deque

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical, Independent, Normal, kl_divergence


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(
                (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


class ChainEnv:
    """A corridor of n cells; action 0 moves left, 1 moves right; +1 at the right end, a small
    cost per step, an episode ends at the goal or after max_steps."""

    def __init__(self, n=6, max_steps=12):
        self.n, self.max_steps = n, max_steps

    def obs(self):
        o = np.zeros(self.n + 1, dtype=np.float32)
        o[self.pos] = 1.0
        o[-1] = self.pos / (self.n - 1)
        return o

    def reset(self):
        self.pos, self.t = 1, 0
        return self.obs()

    def step(self, action):
        self.t += 1
        self.pos = min(self.n - 1, max(0, self.pos + (1 if action == 1 else -1)))
        done = self.pos == self.n - 1
        reward = 1.0 if done else -0.05
        return self.obs(), reward, done or self.t >= self.max_steps, done


# ---------------------------------------------------------------------------------------------
# (a) DQN

class QNet(nn.Module):
    def __init__(self, n_obs, n_act, hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(n_obs, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, n_act)

    def forward(self, x):
        return self.head(F.relu(self.fc2(F.relu(self.fc1(x)))))


class ReplayBuffer:
    def __init__(self, capacity, rng):
        self.buf = deque(maxlen=capacity)
        self.rng = rng

    def push(self, *transition):
        self.buf.append(transition)

    def sample(self, batch_size):
        idx = self.rng.choice(len(self.buf), batch_size, replace=False)
        s, a, rew, s2, d = zip(*[self.buf[i] for i in idx])
        return (torch.tensor(np.array(s)), torch.tensor(a, dtype=torch.long),
                torch.tensor(rew, dtype=torch.float32), torch.tensor(np.array(s2)),
                torch.tensor(d, dtype=torch.float32))

    def __len__(self):
        return len(self.buf)


rng = np.random.default_rng(42)
env = ChainEnv()
policy = fill(QNet(7, 2), 1)
target = QNet(7, 2)
target.load_state_dict(policy.state_dict())
target.eval()
print("dqn_sync:", all(torch.equal(a, b) for a, b in zip(policy.parameters(),
                                                          target.parameters())),
      target.training, sorted(policy.state_dict().keys())[:3])
opt = torch.optim.Adam(policy.parameters(), lr=5e-3)
criterion = nn.SmoothL1Loss()
buffer = ReplayBuffer(200, rng)
gamma, batch_size, tau = 0.9, 16, 0.1
eps_start, eps_end, eps_decay = 0.9, 0.05, 40.0

steps_done = 0
ep_returns, losses, norms, ep_lengths = [], [], [], []
for episode in range(8):
    state = env.reset()
    total = 0.0
    for t in range(env.max_steps):
        eps = eps_end + (eps_start - eps_end) * np.exp(-steps_done / eps_decay)
        steps_done += 1
        if rng.random() < eps:
            action = int(rng.integers(2))
        else:
            with torch.no_grad():
                action = policy(torch.tensor(state).unsqueeze(0)).max(1).indices.item()
        next_state, reward, end, reached = env.step(action)
        buffer.push(state, action, reward, next_state, float(reached))
        state = next_state
        total += reward
        if len(buffer) >= batch_size:
            s, a, rew, s2, d = buffer.sample(batch_size)
            q_sa = policy(s).gather(1, a.unsqueeze(1)).squeeze(1)
            with torch.no_grad():
                next_q = target(s2).max(1).values
            y = rew + gamma * next_q * (1 - d)
            loss = criterion(q_sa, y.detach())
            opt.zero_grad()
            loss.backward()
            if episode % 2 == 0:
                torch.nn.utils.clip_grad_value_(policy.parameters(), 0.5)
            else:
                norms.append(torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0).item())
            opt.step()
            losses.append(loss.item())
            with torch.no_grad():  # soft update: target = tau * policy + (1 - tau) * target
                for tp, pp in zip(target.parameters(), policy.parameters()):
                    tp.mul_(1 - tau).add_(pp, alpha=tau)
        if end:
            break
    ep_returns.append(total)
    ep_lengths.append(t + 1)
    if episode % 4 == 3:
        target.load_state_dict(policy.state_dict())

print("dqn_returns:", r(ep_returns), ep_lengths, steps_done, len(buffer))
print("dqn_losses:", len(losses), r(losses[:3]), r(losses[-3:]), r(float(np.mean(losses))))
print("dqn_norms:", len(norms), r(norms[:3]), r(max(norms)))
with torch.no_grad():
    all_obs = []
    for p in range(env.n):
        env.pos = p
        all_obs.append(env.obs())
    q_all = policy(torch.tensor(np.array(all_obs)))
print("dqn_q:", r(q_all))
print("dqn_greedy:", q_all.argmax(dim=1).tolist(), r(q_all.max(1).values))
print("dqn_target_q:", r(target(torch.tensor(np.array(all_obs))).detach()))

# double DQN target and Huber/SmoothL1 variants on one fixed batch
s, a, rew, s2, d = buffer.sample(batch_size)
with torch.no_grad():
    best = policy(s2).argmax(dim=1, keepdim=True)
    ddqn_next = target(s2).gather(1, best).squeeze(1)
    y_ddqn = rew + gamma * ddqn_next * (1 - d)
    y_plain = rew + gamma * target(s2).max(dim=1)[0] * (1 - d)
q_sa = policy(s).gather(1, a.view(-1, 1)).view(-1)
print("ddqn_targets:", r(y_ddqn[:6]), r(y_plain[:6]), bool((y_plain >= y_ddqn - 1e-6).all()))
print("ddqn_losses:", r(F.smooth_l1_loss(q_sa, y_ddqn)), r(F.smooth_l1_loss(q_sa, y_ddqn,
                                                                       beta=0.5)),
      r(F.huber_loss(q_sa, y_ddqn, delta=0.5)), r(nn.SmoothL1Loss(reduction="sum")(q_sa, y_ddqn)))
td = (q_sa - y_ddqn).detach()
weights = torch.tensor(rng.uniform(0.5, 1.0, batch_size).astype("float32"))  # PER-style
per_loss = (weights * F.smooth_l1_loss(q_sa, y_ddqn, reduction="none")).mean()
per_loss.backward()
print("per:", r(per_loss), r(td.abs()[:4]), r(policy.head.weight.grad))

# soft updates three ways must agree: mul_/add_, lerp_, torch._foreach_*
net_a, net_b, net_c = copy.deepcopy(target), copy.deepcopy(target), copy.deepcopy(target)
src = list(policy.parameters())
with torch.no_grad():
    for tp, pp in zip(net_a.parameters(), src):
        tp.mul_(0.8).add_(0.2 * pp)
    for tp, pp in zip(net_b.parameters(), src):
        tp.lerp_(pp, 0.2)
    tparams = list(net_c.parameters())
    torch._foreach_mul_(tparams, 0.8)
    torch._foreach_add_(tparams, src, alpha=0.2)
print("soft_update:", r(net_a.head.bias), r(net_b.head.bias), r(net_c.head.bias))
print("soft_update_eq:", all(torch.allclose(x, y, atol=1e-6) for x, y in
                             zip(net_a.parameters(), net_b.parameters())),
      all(torch.allclose(x, y, atol=1e-6) for x, y in zip(net_a.parameters(),
                                                          net_c.parameters())))
with torch.no_grad():
    tl = [t.clone() for t in src]
    torch._foreach_lerp_(tl, [torch.zeros_like(t) for t in src], 0.25)
    print("foreach_lerp:", r(tl[-1]), r(src[-1] * 0.75))
    sums = torch._foreach_add(tl, 1.0)
    prods = torch._foreach_mul(tl, tl)
    torch._foreach_add_(tl, 2.0)
    torch._foreach_mul_(tl, [torch.full_like(t, 0.5) for t in tl])
    print("foreach_misc:", r(sums[-1]), r(prods[-1]), r(tl[-1]), len(sums),
          sums[0].shape == src[0].shape)
    sd = target.state_dict()
    for k, v in policy.state_dict().items():  # state_dict based Polyak averaging
        sd[k] = 0.5 * v + 0.5 * sd[k]
    target.load_state_dict(sd)
print("state_dict_polyak:", r(target.head.bias), r(target.fc1.weight.sum()))

# ---------------------------------------------------------------------------------------------
# (b) PPO with a discrete (Categorical) actor-critic


class ActorCritic(nn.Module):
    def __init__(self, n_obs, n_act, hidden=16, continuous=False):
        super().__init__()
        self.continuous = continuous
        self.body = nn.Sequential(nn.Linear(n_obs, hidden), nn.Tanh(),
                                  nn.Linear(hidden, hidden), nn.Tanh())
        self.actor = nn.Linear(hidden, n_act)
        self.critic = nn.Linear(hidden, 1)
        if continuous:
            self.log_std = nn.Parameter(torch.full((n_act,), -0.5))

    def dist(self, x):
        h = self.body(x)
        if self.continuous:
            mu = self.actor(h)
            return Independent(Normal(mu, self.log_std.exp().expand_as(mu)), 1)
        return Categorical(logits=self.actor(h))

    def value(self, x):
        return self.critic(self.body(x)).squeeze(-1)


def gae(rewards, values, dones, last_value, gamma=0.95, lam=0.9):
    T = len(rewards)
    adv = torch.zeros(T)
    lastgaelam = 0.0
    for t in reversed(range(T)):
        if t == T - 1:
            next_nonterminal, next_value = 1.0 - dones[t], last_value
        else:
            next_nonterminal, next_value = 1.0 - dones[t], values[t + 1]
        delta = rewards[t] + gamma * next_value * next_nonterminal - values[t]
        lastgaelam = delta + gamma * lam * next_nonterminal * lastgaelam
        adv[t] = lastgaelam
    return adv, adv + values


def ppo_update(ac, opt, batch, rng, epochs=3, minibatch=8, clip=0.2, vclip=0.2,
               ent_coef=0.01, vf_coef=0.5, max_norm=0.5):
    obs, actions, old_logp, adv, returns, old_values = batch
    n = obs.shape[0]
    stats = []
    for epoch in range(epochs):
        perm = rng.permutation(n)
        for start in range(0, n, minibatch):
            idx = torch.as_tensor(perm[start:start + minibatch])
            dist = ac.dist(obs[idx])
            new_logp = dist.log_prob(actions[idx])
            entropy = dist.entropy().mean()
            logratio = new_logp - old_logp[idx]
            ratio = logratio.exp()
            mb_adv = adv[idx]
            mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            surr1 = ratio * mb_adv
            surr2 = torch.clamp(ratio, 1 - clip, 1 + clip) * mb_adv
            pg_loss = -torch.min(surr1, surr2).mean()
            new_v = ac.value(obs[idx])
            v_clipped = old_values[idx] + torch.clamp(new_v - old_values[idx], -vclip, vclip)
            v_loss = 0.5 * torch.max((new_v - returns[idx]) ** 2,
                                     (v_clipped - returns[idx]) ** 2).mean()
            loss = pg_loss - ent_coef * entropy + vf_coef * v_loss
            opt.zero_grad()
            loss.backward()
            gnorm = nn.utils.clip_grad_norm_(ac.parameters(), max_norm)
            opt.step()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfrac = ((ratio - 1.0).abs() > clip).float().mean()
            stats.append([loss.item(), pg_loss.item(), v_loss.item(), entropy.item(),
                          approx_kl.item(), clipfrac.item(), gnorm.item()])
    return np.array(stats)


def draw_categorical(probs, rng):
    u = rng.random()
    return min(int(np.searchsorted(np.cumsum(probs), u)), len(probs) - 1)


ac = fill(ActorCritic(7, 2), 5)
ac_opt = torch.optim.Adam(ac.parameters(), lr=3e-3, eps=1e-5)
penv = ChainEnv(max_steps=10)
T = 24
for iteration in range(3):
    obs_l, act_l, logp_l, rew_l, done_l, val_l = [], [], [], [], [], []
    state = penv.reset()
    ep_rets, ep_ret = [], 0.0
    for t in range(T):
        x = torch.tensor(state)
        with torch.no_grad():
            dist = ac.dist(x)
            v = ac.value(x)
        action = draw_categorical(dist.probs.detach().cpu().numpy().astype(np.float64), rng)
        logp_l.append(dist.log_prob(torch.tensor(action)))
        obs_l.append(state)
        act_l.append(action)
        val_l.append(v)
        state, reward, end, _ = penv.step(action)
        rew_l.append(reward)
        done_l.append(float(end))
        ep_ret += reward
        if end:
            ep_rets.append(ep_ret)
            ep_ret = 0.0
            state = penv.reset()
    with torch.no_grad():
        last_value = ac.value(torch.tensor(state))
    values = torch.stack(val_l)
    rewards = torch.tensor(rew_l)
    dones = torch.tensor(done_l)
    adv, returns = gae(rewards, values, dones, last_value)
    obs_t = torch.tensor(np.array(obs_l))
    act_t = torch.tensor(act_l)
    old_logp = torch.stack(logp_l)
    with torch.no_grad():
        old_dist = ac.dist(obs_t)
    stats = ppo_update(ac, ac_opt, (obs_t, act_t, old_logp, adv, returns, values), rng)
    with torch.no_grad():
        kl = kl_divergence(old_dist, ac.dist(obs_t)).mean()
    print(f"ppo_iter{iteration}:", act_l, r(ep_rets), r(adv[:5]), r(returns[-3:]))
    print(f"ppo_stats{iteration}:", stats.shape[0], r(stats.mean(0).tolist()), r(kl))

with torch.no_grad():
    d = ac.dist(torch.tensor(np.array(all_obs)))
    print("ppo_final_probs:", r(d.probs), r(d.entropy()))
    print("ppo_final_values:", r(ac.value(torch.tensor(np.array(all_obs)))))

# ---------------------------------------------------------------------------------------------
# PPO with a continuous (Independent Normal) policy on a 2D point-mass: move toward the origin


class PointEnv:
    def __init__(self, rng):
        self.rng = rng

    def reset(self):
        self.p = self.rng.uniform(-1, 1, 2).astype(np.float32)
        return self.p.copy()

    def step(self, a):
        self.p = np.clip(self.p + 0.2 * np.clip(a, -1, 1), -2, 2).astype(np.float32)
        return self.p.copy(), float(-np.sum(self.p ** 2))


cac = fill(ActorCritic(2, 2, hidden=12, continuous=True), 6, scale=0.3)
with torch.no_grad():
    cac.log_std.fill_(-0.5)
d0 = cac.dist(torch.zeros(3, 2))
print("normal_dist:", d0.batch_shape, d0.event_shape, r(d0.entropy()),
      r(d0.log_prob(torch.ones(3, 2))), r(d0.base_dist.stddev[0]))
cenv = PointEnv(rng)
c_opt = torch.optim.Adam(cac.parameters(), lr=3e-3)
T = 16
for iteration in range(2):
    state = cenv.reset()
    obs_l, act_l, logp_l, rew_l, val_l = [], [], [], [], []
    for t in range(T):
        x = torch.tensor(state).unsqueeze(0)
        with torch.no_grad():
            dist = cac.dist(x)
            v = cac.value(x)[0]
        mean = dist.mean[0].cpu().numpy()
        std = dist.stddev[0].cpu().numpy()
        action = (mean + std * rng.standard_normal(2)).astype(np.float32)
        logp_l.append(dist.log_prob(torch.tensor(action).unsqueeze(0))[0])
        obs_l.append(state)
        act_l.append(action)
        val_l.append(v)
        state, reward = cenv.step(action)
        rew_l.append(reward)
    with torch.no_grad():
        last_value = cac.value(torch.tensor(state))
    values = torch.stack(val_l)
    adv, returns = gae(torch.tensor(rew_l), values, torch.zeros(T), last_value)
    batch = (torch.tensor(np.array(obs_l)), torch.tensor(np.array(act_l)), torch.stack(logp_l),
             adv, returns, values)
    stats = ppo_update(cac, c_opt, batch, rng, epochs=2, minibatch=4)
    print(f"cppo_iter{iteration}:", r(sum(rew_l)), r(adv[:4]), r(returns[:3]))
    print(f"cppo_stats{iteration}:", stats.shape[0], r(stats.mean(0).tolist()))
print("cppo_log_std:", r(cac.log_std), r(cac.actor.bias))
