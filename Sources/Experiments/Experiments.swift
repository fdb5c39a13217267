import RNNCore
