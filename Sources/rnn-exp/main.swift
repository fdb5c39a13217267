print("rnn-exp")
