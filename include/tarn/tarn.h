/* tarn/tarn.h — the whole public API of libtarn. */
#ifndef TARN_H
#define TARN_H

#include "common.h"
#include "lake.h"
#include "ref.h"
#include "commit.h"
#include "table.h"
#include "query.h"
#include "gc.h"
#include "auth.h"
#include "iceberg.h"
#include "run.h"
#include "catalog.h"

#define TARN_VERSION "0.1.0"

#endif
