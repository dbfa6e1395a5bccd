// Everything a test that drives real processes needs, in one include.
#pragma once

#include "support/betcore_binary.h"
#include "support/fake_http_server.h"
#include "support/net.h"
#include "support/process.h"
#include "tools/rabbitmq.h"
#include "support/temp_dir.h"
#include "support/tokens.h"
