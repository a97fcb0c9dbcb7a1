"""The LSTM part-of-speech tagger from the PyTorch "Sequence Models and LSTM Networks" tutorial."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


training_data = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"]),
]
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
EMBEDDING_DIM = 6
HIDDEN_DIM = 6


class LSTMTagger(nn.Module):
    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        return F.log_softmax(tag_space, dim=1)


model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
rng = np.random.default_rng(13)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3))
print("lstm_param_names:", [n for n, _ in model.lstm.named_parameters()])
print("lstm_param_shapes:", [tuple(p.shape) for p in model.lstm.parameters()])

loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.5)

with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print("scores_before:", r(tag_scores))

for epoch in range(80):
    total = 0.0
    for sentence, tags in training_data:
        model.zero_grad()
        sentence_in = prepare_sequence(sentence, word_to_ix)
        targets = prepare_sequence(tags, tag_to_ix)
        tag_scores = model(sentence_in)
        loss = loss_function(tag_scores, targets)
        loss.backward()
        optimizer.step()
        total += loss.item()
    if epoch % 20 == 19:
        print(f"epoch_{epoch}_loss:", r(total))

with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print("scores_after:", r(tag_scores))
    print("predicted_tags:", tag_scores.argmax(dim=1).tolist())

# the lower-level API: explicit initial state, batch_first, several layers, LSTMCell
lstm = nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
with torch.no_grad():
    for p in lstm.parameters():
        p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.4))
x = torch.tensor(rng.standard_normal((2, 5, 3)).astype("float32"), requires_grad=True)
h0 = torch.tensor(rng.standard_normal((2, 2, 4)).astype("float32"))
c0 = torch.zeros(2, 2, 4)
out, (hn, cn) = lstm(x, (h0, c0))
print("lstm2_out_shape:", tuple(out.shape), tuple(hn.shape), tuple(cn.shape))
print("lstm2_out_last:", r(out[:, -1]))
print("lstm2_hn_matches_out:", torch.allclose(hn[-1], out[:, -1]))
print("lstm2_cn:", r(cn))
out.pow(2).sum().backward()
print("lstm2_input_grad:", r(x.grad[0]))
print("lstm2_weight_grad_norm:", r(lstm.weight_hh_l1.grad.norm().item()))

cell = nn.LSTMCell(3, 4)
with torch.no_grad():
    for p in cell.parameters():
        p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.4))
h, c = torch.zeros(2, 4), torch.zeros(2, 4)
for t in range(5):
    h, c = cell(x[:, t].detach(), (h, c))
print("lstmcell_h:", r(h))
