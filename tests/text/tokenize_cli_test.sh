#!/usr/bin/env bash
# `vase tokenize` end to end: a model directory, a tokenizer.json, a file, stdin, the
# per-token listing, --no-special and the errors. Expected ids were produced identically
# by Hugging Face tokenizers and the JavaScript Qwen3 tokenizer.
# usage: tokenize_cli_test.sh VASE_BINARY TOKENIZER_DIR CORPUS_DIR
set -uo pipefail
vase=$1
dir=$2
corpus=$3
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {  # expect NAME EXPECTED ACTUAL
    if [ "$2" == "$3" ]; then
        echo "ok: $1"
    else
        echo "FAILED: $1"
        echo "  expected: $2"
        echo "  actual:   $3"
        failures=$((failures + 1))
    fi
}

expect "directory, --ids" "9707 1879" "$("$vase" tokenize -m "$dir" --ids "Hello world")"
expect "tokenizer.json, --ids" "151644 872 198 6023 151645" \
    "$("$vase" tokenize -m "$dir/tokenizer.json" --ids $'<|im_start|>user\nhi<|im_end|>')"
printf 'Hello world' > "$tmp/in.txt"
expect "-f FILE" "9707 1879" "$("$vase" tokenize -m "$dir" --ids -f "$tmp/in.txt")"
expect "-f - (stdin)" "9707 1879" "$(printf 'Hello world' | "$vase" tokenize -m "$dir" --ids -f -)"
expect "empty text" "" "$("$vase" tokenize -m "$dir" --ids "")"
expect "listing" "  9707 -> 'Hello'
  1879 -> ' world'
   198 -> '\\n'" "$("$vase" tokenize -m "$dir" $'Hello world\n')"
# A character split over byte tokens shows its bytes escaped.
expect "listing of partial UTF-8" "124373 -> '\\xf0\\x93'
   222 -> '\\x80'
   222 -> '\\x80'" "$("$vase" tokenize -m "$dir" $'\U00013000')"

special=$("$vase" tokenize -m "$dir" --ids "<|im_end|><think>")
plain=$("$vase" tokenize -m "$dir" --ids --no-special "<|im_end|><think>")
expect "special parsed" "151645 151667" "$special"
case " $plain " in
    *" 151645 "*) expect "--no-special leaves <|im_end|> as text" "no 151645" "$plain" ;;
    *" 151667 ") expect "--no-special still matches <think>" "ok" "ok" ;;
    *) expect "--no-special still matches <think>" "... 151667" "$plain" ;;
esac

# A GGUF file carries the same tokenizer (vocab, merges, token types): same ids on the
# corpus files with the most varied text.
if "$vase" make-model --shape tiny --format gguf --tokenizer "$dir" --out "$tmp/tiny.gguf" \
        >/dev/null 2>&1; then
    cat "$corpus/special.txt" "$corpus/unicode.txt" "$corpus/fuzz.txt" > "$tmp/mixed.txt"
    expect "GGUF tokenizer = tokenizer.json" \
        "$("$vase" tokenize -m "$dir" --ids -f "$tmp/mixed.txt")" \
        "$("$vase" tokenize -m "$tmp/tiny.gguf" --ids -f "$tmp/mixed.txt")"
else
    expect "make-model writes a GGUF file" "exit 0" "failed"
fi

check_error() {  # check_error NAME PATTERN ARGS...
    local name=$1 pattern=$2
    shift 2
    local out
    if out=$("$vase" tokenize "$@" 2>&1); then
        expect "$name fails" "non-zero exit" "exit 0: $out"
    elif [[ "$out" != *"$pattern"* ]]; then
        expect "$name message" "*$pattern*" "$out"
    else
        echo "ok: $name"
    fi
}
check_error "missing model" "$tmp/none: no such file or directory" -m "$tmp/none" "hi"
printf '{"model": ' > "$tmp/bad.json"
check_error "malformed tokenizer.json" "$tmp/bad.json: not valid JSON" -m "$tmp/bad.json" "hi"
check_error "no text" "give the TEXT" -m "$dir"
check_error "missing file" "$tmp/none.txt" -m "$dir" -f "$tmp/none.txt"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
