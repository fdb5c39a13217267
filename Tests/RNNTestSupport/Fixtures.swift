/// A minimal valid experiment file that tests extend or break one key at a time.
public let validBase = """
dataset: {kind: adding, length: 6, train: 8, validation: 4}
model:
  layers:
    - {type: rnn, units: 4, activation: tanh}
    - {type: dense, units: 1, activation: identity}
training: {epochs: 1, batch: 4}

"""
