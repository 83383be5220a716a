/*
 * buf.h — the buffer moved to the bottom layer (common/buf.h); this name
 * stays only for worker.c until it includes common/buf.h itself.
 */
#ifndef PWR_FCGI_BUF_H
#define PWR_FCGI_BUF_H

#include "common/buf.h"

#endif
