"""skl2onnx's converter for the estimators: their encoder, exported by Keras, inlined.

skl2onnx converts a pipeline step by step, each step through the converter registered
for its class. The estimators' step is the fitted encoder, which Keras exports to ONNX
itself (through tf2onnx on TensorFlow, jax2onnx on JAX, torch.onnx on torch); the
converter copies that graph's weights and nodes into the pipeline's graph under names
of their own, so that the steps before and after it connect to it as to any
scikit-learn transformer's.
"""

import os
import tempfile

_CONVERTED = ("AutoencoderTransformer", "DenoisingAutoencoderTransformer")


def register_converters():
    """Register the estimators' shape calculator and converter with skl2onnx.

    After this call, ``skl2onnx.to_onnx`` converts a fitted
    :class:`~sk_autoencoder.AutoencoderTransformer` or
    :class:`~sk_autoencoder.DenoisingAutoencoderTransformer`, alone or as a step of a
    :class:`~sklearn.pipeline.Pipeline`; its ONNX output is the code that
    :meth:`~sk_autoencoder.AutoencoderTransformer.transform` returns, in float32.
    Calling it again changes nothing.
    """
    from skl2onnx import update_registered_converter

    import sk_autoencoder

    for name in _CONVERTED:
        update_registered_converter(
            getattr(sk_autoencoder, name),
            f"SkAutoencoder{name}",
            _shape_calculator,
            _converter,
        )


def _shape_calculator(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(operator.raw_operator)

    (source,) = operator.inputs
    if not isinstance(source.type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{type(operator.raw_operator).__name__} converts float or double input, "
            f"not {type(source.type).__name__}"
        )
    n_rows = source.get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n_rows, operator.raw_operator._n_features_out])


def _converter(scope, operator, container):
    import onnx
    from onnx import numpy_helper
    from skl2onnx.common.data_types import FloatTensorType

    estimator = operator.raw_operator
    exported = exported_encoder(estimator, container.target_opset)
    graph = exported.graph
    prefix = scope.get_unique_variable_name(f"{type(estimator).__name__}_")
    source = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, FloatTensorType):
        cast = scope.get_unique_variable_name(f"{prefix}input")
        container.add_node(
            "Cast", [source], [cast], name=f"{prefix}Cast", to=onnx.TensorProto.FLOAT
        )
        source = cast
    names = {"": ""}
    weights = {tensor.name for tensor in graph.initializer}
    (graph_input,) = [value for value in graph.input if value.name not in weights]
    (graph_output,) = graph.output
    names[graph_input.name] = source
    names[graph_output.name] = operator.outputs[0].full_name

    def renamed(name):
        if name not in names:
            names[name] = f"{prefix}{name}"
        return names[name]

    for tensor in graph.initializer:
        values = numpy_helper.to_array(tensor)
        container.add_initializer(
            renamed(tensor.name),
            tensor.data_type,
            list(tensor.dims),
            numpy_helper.from_array(values, tensor.name),
        )
    versions = {entry.domain: entry.version for entry in exported.opset_import}
    for node in graph.node:
        # An optional input left out is named ""; skl2onnx takes a trailing one for a
        # tensor that nothing makes (torch's exporter leaves Pad's constant value so).
        inputs = list(node.input)
        while inputs and not inputs[-1]:
            inputs.pop()
        attributes = {
            attribute.name: onnx.helper.get_attribute_value(attribute)
            for attribute in node.attribute
        }
        container.add_node(
            node.op_type,
            [renamed(name) for name in inputs],
            [renamed(name) for name in node.output],
            op_domain=node.domain,
            op_version=versions.get(node.domain),
            name=renamed(node.name or node.output[0]),
            **attributes,
        )


def exported_encoder(estimator, opset):
    """The fitted encoder as Keras exports it to ONNX: an ``onnx.ModelProto``."""
    import onnx
    import onnx.version_converter

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "encoder.onnx")
        estimator.encoder_.export(path, format="onnx", verbose=False)
        model = onnx.load(path)
    # The exporters stop at an opset of their own; the pipeline's graph has one opset,
    # skl2onnx's target, which ONNX's own converter brings the encoder's nodes to.
    if _main_opset(model) != opset:
        model = onnx.version_converter.convert_version(model, opset)
    return model


def _main_opset(model):
    return next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
