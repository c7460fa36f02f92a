# bash completion for mlp. `make install` puts it in PREFIX/share/bash-completion/completions/mlp (found
# there by bash-completion when PREFIX is /usr or /usr/local); or: source completions/mlp.bash.
# Option names come from the binary itself (`mlp COMMAND --list-options`, the parser's own list), so the
# completion cannot drift from what mlp accepts.
_mlp() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} bin=${COMP_WORDS[0]}
    local commands="train eval predict info sweep report plot fetch help"
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands --help --version -V" -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]} words=""
    case $prev in
    --act) words="relu sigmoid tanh selu swish gelu" ;;
    --loss) words="mse ce hinge focal" ;;
    --dataset) words="mnist fashion-mnist" ;;
    --kernels) words="auto portable avx2 avx512" ;;
    --invert) words="auto yes no" ;;
    --prepare) words="mnist fashion-mnist whole" ;;
    --grad-reduction) words="sum mean" ;;
    --optimizer) words="sgd adam adamw" ;;
    --schedule) words="constant step cosine" ;;
    --metric) words="test_acc test_loss train_acc train_loss" ;;
    --data | -d | --out | -o | --resume)
        COMPREPLY=($(compgen -d -- "$cur"))
        return
        ;;
    esac
    if [ -n "$words" ]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return
    fi
    case $cmd in
    fetch)
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -W "mnist fashion-mnist" -- "$cur"))
            return
        fi
        ;;
    help)
        # the topics as `mlp help` lists them
        words=$("$bin" help --help 2>/dev/null | awk '/^  [a-z]/ { print $1 }')
        COMPREPLY=($(compgen -W "$commands $words" -- "$cur"))
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$bin" "$cmd" --list-options 2>/dev/null)" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _mlp mlp
