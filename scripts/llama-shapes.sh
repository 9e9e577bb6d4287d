# The synthetic Llama shapes the device scripts build (sourced by scripts/device-*.sh): the
# `concord synth` options of SHAPE, vocabulary included.
#   1b: Llama-3.2-1B's layout and 8b: Llama-3-8B's (issue #8's benchmark shapes);
#   3b: Llama-3.2-3B's, with its tied embeddings (width 3072: Q6_K rows that are not whole
#       16-byte runs).
llama_shape() {
  case "$1" in
    1b) echo "--layers 16 --width 2048 --heads 32 --kv-heads 8 --ff 8192 --vocab 128256" ;;
    3b) echo "--layers 28 --width 3072 --heads 24 --kv-heads 8 --ff 8192 --vocab 128256 --tied" ;;
    8b) echo "--layers 32 --width 4096 --heads 32 --kv-heads 8 --ff 14336 --vocab 128256" ;;
    *)
      echo "unknown shape '$1' (expected 1b, 3b or 8b)" >&2
      return 2
      ;;
  esac
}
