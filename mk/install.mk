# install.mk - the shared library, `make install` and `make uninstall`.
#
#   make install PREFIX=/some/dir     (default /usr/local; DESTDIR is honoured for packaging)
#   make uninstall PREFIX=/some/dir   removes exactly the files and folders install put there
#   make shared                       only build $(BUILD)/libmlp.so.X.Y.Z
#
# Installed:
#   PREFIX/include/mlp.h
#   PREFIX/lib/libmlp.a
#   PREFIX/lib/libmlp.so.X.Y.Z, with the soname libmlp.so.0 (symlink) and libmlp.so (symlink, for -lmlp)
#   PREFIX/lib/pkgconfig/mlp.pc       (pkg-config --cflags --libs mlp)
#   PREFIX/bin/mlp
#   PREFIX/share/man/man1/mlp.1
#   PREFIX/share/mlp/fetch_data.sh    (what `mlp fetch` runs)
#   PREFIX/share/bash-completion/completions/mlp   (bash completion; options asked from mlp itself)
#   PREFIX/share/mlp/installed-folders  the folders install created, deepest first (for uninstall)
#
# Uninstall removes the files, then those of the recorded folders that are empty: a prefix is left as it
# was before install (folders that existed before are never recorded, so never removed). Reinstalling
# over an installation keeps the earlier record.
#
# The shared library is linked from the same -fPIC objects as libmlp.a. Like libmlp.a it exports exactly the
# functions of include/mlp.h: everything else is compiled hidden (-fvisibility=hidden, see the Makefile), and
# the version script keeps any other mlp_* name local too, so nothing internal can clash with a program's own
# symbols. The soname's major number (0) changes when the ABI does.

PREFIX     ?= /usr/local
DESTDIR    ?=
INCLUDEDIR  = $(PREFIX)/include
LIBDIR      = $(PREFIX)/lib
BINDIR      = $(PREFIX)/bin
MANDIR      = $(PREFIX)/share/man
PKGDIR      = $(LIBDIR)/pkgconfig
SHAREDIR    = $(PREFIX)/share/mlp
COMPDIR     = $(PREFIX)/share/bash-completion/completions
MLP_INSTALL_DIRS = $(INCLUDEDIR) $(LIBDIR) $(PKGDIR) $(BINDIR) $(MANDIR)/man1 $(SHAREDIR) $(COMPDIR)
MLP_DIRS_RECORD  = $(SHAREDIR)/installed-folders

MLP_SOVERSION = 0
MLP_FULLVER  := $(shell sed -n 's/^\#define MLP_VERSION "\([^"]*\)".*/\1/p' include/mlp.h)
MLP_SONAME    = libmlp.so.$(MLP_SOVERSION)
MLP_SHLIB     = libmlp.so.$(MLP_FULLVER)

.PHONY: shared install uninstall

shared: $(BUILD)/$(MLP_SHLIB)

# tests/test_install.c compares both libraries' exported symbols with mlp.h
test: $(BUILD)/$(MLP_SHLIB)

$(BUILD)/libmlp.map: mk/install.mk | $(BUILD)/obj
	printf '{\n  global: mlp_*;\n  local: *;\n};\n' > $@

$(BUILD)/$(MLP_SHLIB): $(LIB_OBJ) $(BUILD)/libmlp.map
	$(CC) $(CFLAGS) -fopenmp -shared -Wl,-soname,$(MLP_SONAME) -Wl,--version-script,$(BUILD)/libmlp.map \
	    -o $@ $(LIB_OBJ) $(LDFLAGS) $(LDLIBS)
	ln -sf $(MLP_SHLIB) $(BUILD)/$(MLP_SONAME)
	ln -sf $(MLP_SONAME) $(BUILD)/libmlp.so

install: $(BUILD)/mlp $(BUILD)/libmlp.a $(BUILD)/$(MLP_SHLIB) mlp.pc.in docs/mlp.1 scripts/fetch_data.sh \
         completions/mlp.bash
	@# the folders that do not exist yet (each missing ancestor too), recorded after they are made
	@new=''; for d in $(MLP_INSTALL_DIRS); do \
	    p="$$d"; while [ -n "$$p" ] && [ "$$p" != / ] && [ "$$p" != . ] && [ ! -d '$(DESTDIR)'"$$p" ]; do \
	        case " $$new " in *" $$p "*) ;; *) new="$$new $$p" ;; esac; p=$$(dirname "$$p"); done; \
	done; \
	install -d $(foreach d,$(MLP_INSTALL_DIRS),'$(DESTDIR)$(d)'); \
	{ [ ! -f '$(DESTDIR)$(MLP_DIRS_RECORD)' ] || cat '$(DESTDIR)$(MLP_DIRS_RECORD)'; \
	  for p in $$new; do echo "$$p"; done; } | awk 'NF && !seen[$$0]++ { print length($$0) "\t" $$0 }' | \
	    sort -rn | cut -f2- > '$(DESTDIR)$(MLP_DIRS_RECORD).part' && \
	    mv -f '$(DESTDIR)$(MLP_DIRS_RECORD).part' '$(DESTDIR)$(MLP_DIRS_RECORD)'
	install -m 644 include/mlp.h '$(DESTDIR)$(INCLUDEDIR)/mlp.h'
	install -m 644 $(BUILD)/libmlp.a '$(DESTDIR)$(LIBDIR)/libmlp.a'
	install -m 755 $(BUILD)/$(MLP_SHLIB) '$(DESTDIR)$(LIBDIR)/$(MLP_SHLIB)'
	ln -sf $(MLP_SHLIB) '$(DESTDIR)$(LIBDIR)/$(MLP_SONAME)'
	ln -sf $(MLP_SONAME) '$(DESTDIR)$(LIBDIR)/libmlp.so'
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(MLP_FULLVER)|g' mlp.pc.in > '$(DESTDIR)$(PKGDIR)/mlp.pc'
	chmod 644 '$(DESTDIR)$(PKGDIR)/mlp.pc'
	install -m 755 $(BUILD)/mlp '$(DESTDIR)$(BINDIR)/mlp'
	install -m 644 docs/mlp.1 '$(DESTDIR)$(MANDIR)/man1/mlp.1'
	install -m 644 scripts/fetch_data.sh '$(DESTDIR)$(SHAREDIR)/fetch_data.sh'
	install -m 644 completions/mlp.bash '$(DESTDIR)$(COMPDIR)/mlp'

uninstall:
	rm -f '$(DESTDIR)$(INCLUDEDIR)/mlp.h' '$(DESTDIR)$(LIBDIR)/libmlp.a' '$(DESTDIR)$(LIBDIR)/$(MLP_SHLIB)' \
	    '$(DESTDIR)$(LIBDIR)/$(MLP_SONAME)' '$(DESTDIR)$(LIBDIR)/libmlp.so' '$(DESTDIR)$(PKGDIR)/mlp.pc' \
	    '$(DESTDIR)$(BINDIR)/mlp' '$(DESTDIR)$(MANDIR)/man1/mlp.1' '$(DESTDIR)$(SHAREDIR)/fetch_data.sh' \
	    '$(DESTDIR)$(COMPDIR)/mlp'
	@if [ -f '$(DESTDIR)$(MLP_DIRS_RECORD)' ]; then \
	    dirs=$$(cat '$(DESTDIR)$(MLP_DIRS_RECORD)'); rm -f '$(DESTDIR)$(MLP_DIRS_RECORD)'; \
	    for d in $$dirs; do rmdir '$(DESTDIR)'"$$d" 2>/dev/null || true; done; \
	fi
