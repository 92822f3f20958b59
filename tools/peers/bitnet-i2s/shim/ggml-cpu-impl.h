// Empty: ggml-bitnet-mad.cpp includes it but uses nothing from it (see ggml.h here).
#pragma once
#include "ggml.h"
