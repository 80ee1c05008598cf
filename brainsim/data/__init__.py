"""Datasets (MNIST, Fashion-MNIST, N-MNIST, SHD/SSC, Randman), encoders and batching."""

from ._batching import DataLoader as DataLoader, pad_sequences as pad_sequences
from ._cache import (
    cache_key as cache_key,
    cached_arrays as cached_arrays,
    file_digest as file_digest,
)
from ._encoders import (
    bernoulli_encode as bernoulli_encode,
    bin_events as bin_events,
    delta_encode as delta_encode,
    downsample_channels as downsample_channels,
    latency_encode as latency_encode,
    poisson_encode as poisson_encode,
    random_shift as random_shift,
)
from ._gsc import load_gsc as load_gsc
from ._idx import (
    load_fashion_mnist as load_fashion_mnist,
    load_mnist as load_mnist,
    read_idx as read_idx,
)
from ._nmnist import (
    EVENT_DTYPE as EVENT_DTYPE,
    load_nmnist as load_nmnist,
    nmnist_channels as nmnist_channels,
    read_nmnist_events as read_nmnist_events,
)
from ._paths import DATA_ENV as DATA_ENV, resolve_data_dir as resolve_data_dir
from ._randman import make_randman as make_randman, times_to_raster as times_to_raster
from ._shd import load_shd as load_shd, load_ssc as load_ssc, read_spike_h5 as read_spike_h5
