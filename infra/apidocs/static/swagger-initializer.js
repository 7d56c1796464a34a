// Starts Swagger UI on the API's own document. Served as a file, not inline,
// so the page's Content-Security-Policy allows scripts from this origin only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    // "Try it out" is open on every operation; Authorize keeps its token across reloads.
    tryItOutEnabled: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    // No calls to the public validator service: the page works offline.
    validatorUrl: null,
  });
});
