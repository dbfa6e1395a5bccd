// `betcore token add` and `betcore token hash` (docs/security.md, Tokens).
#pragma once

namespace CLI {
class App;
}

namespace betcore::api {
void add_token_command(CLI::App& root);
}
