// `betcore node`: one node serving the API of API.md.
#pragma once

namespace CLI {
class App;
}

namespace betcore {
void add_node_command(CLI::App& root);
}
