"""All ember.nn layers."""
from .module import Module
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import Identity, Linear, Bilinear
from .activation import (Threshold, ReLU, ReLU6, LeakyReLU, PReLU, GELU, SiLU, Mish, Tanh,
                         Sigmoid, Softmax, LogSoftmax, Softmin, ELU, SELU, CELU, Softplus,
                         Softsign, Hardtanh, Hardsigmoid, Hardswish, Tanhshrink, LogSigmoid, GLU,
                         Softshrink, Hardshrink)
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d,
                      AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d)
from .normalization import (BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm1d,
                            InstanceNorm2d)
from .pixelshuffle import PixelShuffle, PixelUnshuffle, Upsample
from .dropout import Dropout, Dropout1d, Dropout2d
from .sparse import Embedding
from .flatten import Flatten, Unflatten
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, RNNCellBase
from .transformer import (MultiheadAttention, TransformerEncoderLayer, TransformerEncoder,
                          TransformerDecoderLayer, TransformerDecoder, Transformer)
from .padding import (ConstantPad1d, ConstantPad2d, ZeroPad1d, ZeroPad2d, ReflectionPad1d,
                      ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, CircularPad1d,
                      CircularPad2d)
from .distance import CosineSimilarity, PairwiseDistance, Unfold
from .loss import (MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss,
                   BCEWithLogitsLoss, KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss,
                   SoftMarginLoss, GaussianNLLLoss, PoissonNLLLoss, HingeEmbeddingLoss,
                   TripletMarginLoss, MultiLabelSoftMarginLoss)
from .extra_pool import *  # noqa: F401,F403
from .extra_sampling import *  # noqa: F401,F403
from .extra_nn import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .volumetric import *  # noqa: F401,F403
from .sync_batchnorm import *  # noqa: F401,F403

__all__ = [name for name in dir() if name[:1].isupper()]
