// GET /metrics for any process: the registry in the Prometheus text format.
#include <string>

#include "api/http/http_server.h"
#include "ops/metrics.h"

namespace betcore::http {

Response metrics_response(const ops::Registry& registry) {
  return Response{200, registry.expose(), std::string(ops::kExpositionContentType), {}};
}

Handler metrics_only(const ops::Registry& registry) {
  return [&registry](Request&& request, Responder r) {
    if (request.path() != "/metrics") {
      r.send(Response::error(404, "not_found", "only GET /metrics here"));
      return;
    }
    r.send(metrics_response(registry));
  };
}

}  // namespace betcore::http
