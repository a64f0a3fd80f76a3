use std::collections::BTreeSet;
use std::fmt;

use ndarray::{Array1, Array2, Array4, ArrayViewD, ArrayViewMutD};

use super::error::{ModelError, Result};
use super::shape::Shape;

/// A fully connected layer: `y = W x + b`, `W` is `[out, in]` (ONNX Gemm with transB).
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
}

impl Dense {
    pub fn in_features(&self) -> usize {
        self.weight.ncols()
    }
    pub fn out_features(&self) -> usize {
        self.weight.nrows()
    }
}

/// A 2-D convolution with symmetric zero padding; `weight` is `[oc, ic, kh, kw]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    pub weight: Array4<f32>,
    pub bias: Array1<f32>,
    /// Stride along (rows, columns).
    pub stride: [usize; 2],
    /// Zero padding added on both sides of (rows, columns).
    pub padding: [usize; 2],
}

impl Conv2d {
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1]
    }
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }
    /// Kernel size as (rows, columns).
    pub fn kernel(&self) -> [usize; 2] {
        [self.weight.shape()[2], self.weight.shape()[3]]
    }
}

/// Max pooling without padding, floor mode (PyTorch's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

/// Batch normalization over channels (images) or features (flat vectors).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub gamma: Array1<f32>,
    pub beta: Array1<f32>,
    pub running_mean: Array1<f32>,
    pub running_var: Array1<f32>,
    pub eps: f32,
    /// Weight of the new batch statistic in the running average (PyTorch's 0.1).
    pub momentum: f32,
}

impl BatchNorm {
    /// The identity normalization for `channels` channels.
    pub fn identity(channels: usize) -> BatchNorm {
        BatchNorm {
            gamma: Array1::ones(channels),
            beta: Array1::zeros(channels),
            running_mean: Array1::zeros(channels),
            running_var: Array1::ones(channels),
            eps: 1e-5,
            momentum: 0.1,
        }
    }
    pub fn channels(&self) -> usize {
        self.gamma.len()
    }
}

/// The operation of one layer, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Dense(Dense),
    Conv2d(Conv2d),
    MaxPool2d(MaxPool2d),
    Relu,
    Flatten,
    BatchNorm(BatchNorm),
}

impl Op {
    /// The operator's name as the CLI, reports and model files spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Op::Dense(_) => "dense",
            Op::Conv2d(_) => "conv2d",
            Op::MaxPool2d(_) => "maxpool2d",
            Op::Relu => "relu",
            Op::Flatten => "flatten",
            Op::BatchNorm(_) => "batchnorm",
        }
    }

    /// Infers the output shape from the input shape, or says why the layer cannot
    /// take that input.
    pub fn output_shape(&self, input: Shape) -> std::result::Result<Shape, String> {
        match (self, input) {
            (Op::Dense(d), Shape::Flat(n)) => {
                if d.in_features() == 0 || d.out_features() == 0 {
                    return Err(format!(
                        "dense layer has {} inputs and {} outputs; both must be at least 1",
                        d.in_features(),
                        d.out_features()
                    ));
                }
                if d.bias.len() != d.out_features() {
                    return Err(format!(
                        "bias has {} values, the layer has {} outputs",
                        d.bias.len(),
                        d.out_features()
                    ));
                }
                if n != d.in_features() {
                    return Err(format!(
                        "dense layer expects {} inputs, the previous layer gives {n}",
                        d.in_features()
                    ));
                }
                Ok(Shape::Flat(d.out_features()))
            }
            (Op::Dense(_), Shape::Image { .. }) => {
                Err("dense layer needs a flat vector; add a flatten layer before it".into())
            }
            (Op::Conv2d(cv), Shape::Image { c, h, w }) => {
                let [kh, kw] = cv.kernel();
                if cv.out_channels() == 0 || kh == 0 || kw == 0 {
                    return Err(format!(
                        "convolution has {} output channels and a {kh}x{kw} kernel; all must be \
                         at least 1",
                        cv.out_channels()
                    ));
                }
                if cv.stride.contains(&0) {
                    return Err("stride must be at least 1".into());
                }
                if cv.bias.len() != cv.out_channels() {
                    return Err(format!(
                        "bias has {} values, the layer has {} output channels",
                        cv.bias.len(),
                        cv.out_channels()
                    ));
                }
                if c != cv.in_channels() {
                    return Err(format!(
                        "convolution expects {} input channels, the previous layer gives {c}",
                        cv.in_channels()
                    ));
                }
                let oh = window_count(h, kh, cv.stride[0], cv.padding[0]);
                let ow = window_count(w, kw, cv.stride[1], cv.padding[1]);
                match (oh, ow) {
                    (Some(oh), Some(ow)) => Ok(Shape::Image { c: cv.out_channels(), h: oh, w: ow }),
                    _ => Err(format!(
                        "a {kh}x{kw} kernel with padding {}x{} does not fit a {h}x{w} image",
                        cv.padding[0], cv.padding[1]
                    )),
                }
            }
            (Op::MaxPool2d(p), Shape::Image { c, h, w }) => {
                if p.kernel.contains(&0) || p.stride.contains(&0) {
                    return Err("pooling kernel and stride must be at least 1".into());
                }
                let oh = window_count(h, p.kernel[0], p.stride[0], 0);
                let ow = window_count(w, p.kernel[1], p.stride[1], 0);
                match (oh, ow) {
                    (Some(oh), Some(ow)) => Ok(Shape::Image { c, h: oh, w: ow }),
                    _ => Err(format!(
                        "a {}x{} pooling window does not fit a {h}x{w} image",
                        p.kernel[0], p.kernel[1]
                    )),
                }
            }
            (Op::Conv2d(_) | Op::MaxPool2d(_), Shape::Flat(_)) => {
                Err("needs an image (channels x height x width), got a flat vector".into())
            }
            (Op::Relu, s) => Ok(s),
            (Op::Flatten, s) => Ok(Shape::Flat(s.numel())),
            (Op::BatchNorm(bn), s) => {
                let ok = bn.beta.len() == bn.channels()
                    && bn.running_mean.len() == bn.channels()
                    && bn.running_var.len() == bn.channels();
                if !ok {
                    return Err(
                        "gamma, beta, mean and variance must have one value per channel".into()
                    );
                }
                if bn.eps.is_nan() || bn.eps <= 0.0 {
                    return Err(format!("epsilon must be positive, got {}", bn.eps));
                }
                if s.channels() != bn.channels() {
                    return Err(format!(
                        "normalizes {} channels, the previous layer gives {}",
                        bn.channels(),
                        s.channels()
                    ));
                }
                Ok(s)
            }
        }
    }

    /// Multiply-accumulates of one inference through this layer.
    pub fn macs(&self, input: Shape, output: Shape) -> usize {
        match self {
            Op::Dense(d) => d.in_features() * d.out_features(),
            Op::Conv2d(cv) => {
                let [kh, kw] = cv.kernel();
                output.numel() * cv.in_channels() * kh * kw
            }
            // One multiply (and add) per element.
            Op::BatchNorm(_) => input.numel(),
            Op::MaxPool2d(_) | Op::Relu | Op::Flatten => 0,
        }
    }
}

/// Number of window positions along one axis, or `None` when no window fits.
pub fn window_count(size: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = size + 2 * padding;
    if padded < kernel {
        None
    } else {
        Some((padded - kernel) / stride + 1)
    }
}

/// One named layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub op: Op,
}

/// The kind of a trainable parameter tensor of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParamKind {
    Weight,
    Bias,
    Gamma,
    Beta,
}

impl ParamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::Weight => "weight",
            ParamKind::Bias => "bias",
            ParamKind::Gamma => "gamma",
            ParamKind::Beta => "beta",
        }
    }
}

/// Names one trainable tensor: the layer's index and the tensor's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParamId {
    pub layer: usize,
    pub kind: ParamKind,
}

impl fmt::Display for ParamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layer {} {}", self.layer, self.kind.as_str())
    }
}

fn standard<D: ndarray::Dimension>(a: &mut ndarray::Array<f32, D>) {
    if !a.is_standard_layout() {
        *a = a.as_standard_layout().into_owned();
    }
}

/// A validated float network: an input shape and layers whose shapes chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    input: Shape,
    layers: Vec<Layer>,
    /// `shapes[i]` is the output shape of layer `i`.
    shapes: Vec<Shape>,
}

impl Network {
    /// Checks that the layers chain from `input` and infers every shape.
    pub fn new(input: Shape, mut layers: Vec<Layer>) -> Result<Network> {
        // Parameters are kept in standard (row-major) layout, whatever made them
        // (`select`, transposes): passes and quantization read them as slices.
        for layer in &mut layers {
            match &mut layer.op {
                Op::Dense(d) => {
                    standard(&mut d.weight);
                    standard(&mut d.bias);
                }
                Op::Conv2d(c) => {
                    standard(&mut c.weight);
                    standard(&mut c.bias);
                }
                _ => {}
            }
        }
        if input.numel() == 0 {
            return Err(ModelError::InvalidNetwork(format!("input shape {input} has no values")));
        }
        if layers.is_empty() {
            return Err(ModelError::InvalidNetwork("the network has no layers".into()));
        }
        let mut names = BTreeSet::new();
        let mut shapes = Vec::with_capacity(layers.len());
        let mut shape = input;
        for (index, layer) in layers.iter().enumerate() {
            if layer.name.is_empty() || !names.insert(layer.name.as_str()) {
                return Err(ModelError::InvalidNetwork(format!(
                    "layer {index} has an empty or duplicate name `{}`; names must be unique",
                    layer.name
                )));
            }
            shape = layer.op.output_shape(shape).map_err(|reason| ModelError::InvalidLayer {
                index,
                name: layer.name.clone(),
                op: layer.op.as_str(),
                input: shape.to_string(),
                reason,
            })?;
            shapes.push(shape);
        }
        Ok(Network { input, layers, shapes })
    }

    pub fn input(&self) -> Shape {
        self.input
    }

    pub fn output(&self) -> Shape {
        *self.shapes.last().expect("a network has at least one layer")
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Input shape of layer `i`.
    pub fn input_of(&self, i: usize) -> Shape {
        if i == 0 {
            self.input
        } else {
            self.shapes[i - 1]
        }
    }

    /// Output shape of layer `i`.
    pub fn output_of(&self, i: usize) -> Shape {
        self.shapes[i]
    }

    /// Consumes the network, giving back its layers (to build a changed network).
    pub fn into_layers(self) -> Vec<Layer> {
        self.layers
    }

    /// Views of every trainable tensor, in layer order.
    pub fn params(&self) -> Vec<(ParamId, ArrayViewD<'_, f32>)> {
        let mut out = Vec::new();
        for (layer, l) in self.layers.iter().enumerate() {
            let id = |kind| ParamId { layer, kind };
            match &l.op {
                Op::Dense(d) => {
                    out.push((id(ParamKind::Weight), d.weight.view().into_dyn()));
                    out.push((id(ParamKind::Bias), d.bias.view().into_dyn()));
                }
                Op::Conv2d(c) => {
                    out.push((id(ParamKind::Weight), c.weight.view().into_dyn()));
                    out.push((id(ParamKind::Bias), c.bias.view().into_dyn()));
                }
                Op::BatchNorm(b) => {
                    out.push((id(ParamKind::Gamma), b.gamma.view().into_dyn()));
                    out.push((id(ParamKind::Beta), b.beta.view().into_dyn()));
                }
                Op::MaxPool2d(_) | Op::Relu | Op::Flatten => {}
            }
        }
        out
    }

    /// Mutable views of every trainable tensor, in layer order. Values may change,
    /// shapes cannot, so the network stays valid.
    pub fn params_mut(&mut self) -> Vec<(ParamId, ArrayViewMutD<'_, f32>)> {
        let mut out = Vec::new();
        for (layer, l) in self.layers.iter_mut().enumerate() {
            let id = |kind| ParamId { layer, kind };
            match &mut l.op {
                Op::Dense(d) => {
                    out.push((id(ParamKind::Weight), d.weight.view_mut().into_dyn()));
                    out.push((id(ParamKind::Bias), d.bias.view_mut().into_dyn()));
                }
                Op::Conv2d(c) => {
                    out.push((id(ParamKind::Weight), c.weight.view_mut().into_dyn()));
                    out.push((id(ParamKind::Bias), c.bias.view_mut().into_dyn()));
                }
                Op::BatchNorm(b) => {
                    out.push((id(ParamKind::Gamma), b.gamma.view_mut().into_dyn()));
                    out.push((id(ParamKind::Beta), b.beta.view_mut().into_dyn()));
                }
                Op::MaxPool2d(_) | Op::Relu | Op::Flatten => {}
            }
        }
        out
    }

    /// The running statistics of the batch-norm layer at `index`, for the trainer.
    pub fn batchnorm_stats_mut(
        &mut self,
        index: usize,
    ) -> Option<(&mut ndarray::Array1<f32>, &mut ndarray::Array1<f32>)> {
        match &mut self.layers.get_mut(index)?.op {
            Op::BatchNorm(b) => Some((&mut b.running_mean, &mut b.running_var)),
            _ => None,
        }
    }

    /// Number of trainable parameters.
    pub fn param_count(&self) -> usize {
        self.params().iter().map(|(_, p)| p.len()).sum()
    }

    /// Index of the layer named `name`.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }

    /// The first NaN or infinite value among the trainable tensors and the
    /// batch-norm running statistics, as `` `conv2` bias holds NaN at index 3
    /// ``: a diverged training run leaves them, and a ReLU hides them from the
    /// loss (`NaN.max(0.0)` is 0).
    pub fn non_finite(&self) -> Option<String> {
        let params = self.params().into_iter().map(|(id, p)| (id.layer, id.kind.as_str(), p));
        let stats = self.layers.iter().enumerate().flat_map(|(i, l)| match &l.op {
            Op::BatchNorm(b) => vec![
                (i, "running_mean", b.running_mean.view().into_dyn()),
                (i, "running_var", b.running_var.view().into_dyn()),
            ],
            _ => vec![],
        });
        params.chain(stats).find_map(|(layer, tensor, t)| {
            let (k, v) = t.iter().enumerate().find(|(_, v)| !v.is_finite())?;
            let name = &self.layers[layer].name;
            Some(format!("`{name}` {tensor} holds {v} at index {k}"))
        })
    }
}
