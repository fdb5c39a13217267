// Placeholder: datasets come in issue 4.
import RNNCore
