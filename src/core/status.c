/* status.c - the names of mlp_status (mlp.h). The helpers that fill an mlp_error are in src/base/util.c. */
#include "mlp.h"

const char *mlp_status_name(mlp_status s) {
    switch (s) {
    case MLP_OK: return "ok";
    case MLP_ERR_ARG: return "invalid argument";
    case MLP_ERR_IO: return "i/o error";
    case MLP_ERR_FORMAT: return "malformed file";
    case MLP_ERR_NOMEM: return "out of memory";
    case MLP_ERR_DIVERGED: return "training diverged";
    case MLP_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}
