// The tenant settings' JSON editor (Jedison, as django-unfold ships it), started here in Portuguese:
// unfold's own initialisation has no language option.
(function () {
  const PT = {
    errorAdditionalProperties: 'Tem a propriedade "{{ property }}", que não é permitida.',
    errorAnyOf: "Deve seguir pelo menos um dos esquemas previstos.",
    errorConst: "Deve ter o valor: {{ const }}.",
    errorContains: "Deve conter pelo menos um item válido.",
    errorDependentRequired: "Deve ter as propriedades: {{ dependentRequired }}.",
    errorEnum: "Deve ser um destes valores: {{ enum }}.",
    errorExclusiveMaximum: "Deve ser menor que {{ exclusiveMaximum }}.",
    errorExclusiveMinimum: "Deve ser maior que {{ exclusiveMinimum }}.",
    errorFormat: "Deve ser um {{ format }} válido.",
    errorItems: "Há itens inválidos.",
    errorMaximum: "Deve ser no máximo {{ maximum }}.",
    errorMaxItems: "Deve ter no máximo {{ maxItems }} itens.",
    errorMaxLength: "Deve ter no máximo {{ maxLength }} caracteres.",
    errorMaxProperties: "Deve ter no máximo {{ maxProperties }} propriedades.",
    errorMaxContains: "Deve conter no máximo {{ maxContains }} itens válidos (tem {{ counter }}).",
    errorMinContains: "Deve conter pelo menos {{ minContains }} itens válidos (tem {{ counter }}).",
    errorMinimum: "Deve ser pelo menos {{ minimum }}.",
    errorMinItems: "Deve ter pelo menos {{ minItems }} itens.",
    errorMinLength: "Deve ter pelo menos {{ minLength }} caracteres.",
    errorMinProperties: "Deve ter pelo menos {{ minProperties }} propriedades.",
    errorMultipleOf: "Deve ser múltiplo de {{ multipleOf }}.",
    errorNot: "Não pode seguir este esquema.",
    errorOneOf: "Deve seguir exatamente um dos esquemas (segue {{ counter }}).",
    errorPattern: 'Deve seguir o padrão "{{ pattern }}".',
    errorPrefixItems: "O item {{ index }} é inválido.",
    errorPropertyNames: 'O nome de propriedade "{{ propertyName }}" é inválido.',
    errorProperties: "Estas propriedades são inválidas: {{ properties }}",
    errorRequired: "Deve ter as propriedades: {{ required }}.",
    errorType: "Deve ser do tipo {{ type }}.",
    errorUnevaluatedProperties: 'A propriedade "{{ property }}" não é permitida.',
    errorUniqueItems: "Os itens devem ser diferentes entre si.",
    arrayDelete: "Remover item",
    arrayMoveUp: "Mover para cima",
    arrayMoveDown: "Mover para baixo",
    arrayDrag: "Arrastar",
    arrayAdd: "Adicionar item",
    arrayAddAfter: "Adicionar depois",
    arrayConfirmDelete: "Remover este item?",
    arrayDeleteAll: "Remover todos os itens",
    arrayConfirmDeleteAll: "Remover todos os itens?",
    objectAddProperty: "Adicionar propriedade",
    objectPropertyAdded: "campo adicionado ao formulário",
    objectPropertyRemoved: "campo removido do formulário",
    propertiesToggle: "Propriedades",
    collapseToggle: "Recolher",
  };

  function init() {
    document.querySelectorAll(".settings-json-editor").forEach((container) => {
      if (container.dataset.ready) return;
      container.dataset.ready = "1";
      const target = document.getElementById(container.dataset.targetId);
      const instance = new Jedison.Create({
        container: container,
        theme: new ThemeUnfold(JSON.parse(document.getElementById("formClasses").textContent)),
        schema: JSON.parse(document.getElementById(container.dataset.schemaId).textContent),
        enablePropertiesToggle: true,
        language: "pt",
        translations: { pt: PT },
      });
      const value = JSON.parse(target.value || "{}");
      if (value && (typeof value !== "object" || Object.keys(value).length > 0)) {
        instance.setValue(value);
      }
      instance.on("change", () => {
        target.value = JSON.stringify(instance.getValue());
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
