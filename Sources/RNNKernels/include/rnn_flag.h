#ifndef RNN_FLAG_H
#define RNN_FLAG_H

/* A flag one thread raises and others poll (a stop request): one atomic load per poll, no lock.
   Used through RNNCore's `AtomicFlag`. */
static inline int rnn_flag_load(const int *flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }
static inline void rnn_flag_store(int *flag, int value) { __atomic_store_n(flag, value, __ATOMIC_RELEASE); }

#endif
